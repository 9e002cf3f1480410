/**
 * The fast CPU model (WebAssembly SIMD, 16-bit weights, threads) against its referee, the f32 reference
 * CpuCausalLM, on the same weights: every architecture, every weight dtype, threaded and not, a
 * sequence longer than one forward step; and its contract (generate, reload, bad input, cancel).
 */
import { describe, expect, test } from 'vitest';
import { CancelledError, InputError } from '../../src/errors';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { FastCpuCausalLM } from '../../src/model/cpu/fastCpuCausalLM';
import { createCausalLM } from '../../src/model/create';
import type { Architecture } from '../../src/model/types';
import { nodeKernelThreads } from '../../src/node/kernelThreads';
import { openTinyModel } from './helpers';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function ids(count: number, vocab: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

describe.each(['llama', 'mistral', 'qwen2', 'qwen3'] as Architecture[])('%s', (architecture) => {
  test.each(['F32', 'BF16', 'F16'] as const)('%s weights: log-probs equal the f32 reference within 2e-4, on 1 and 3 threads', async (dtype) => {
    const m = await openTinyModel({ architecture, dtype, seed: 21 });
    const reference = await CpuCausalLM.load(m.config, m.weights);
    const seqs = [ids(150, m.config.vocabSize, 1), ids(7, m.config.vocabSize, 2)];
    const expected = await reference.scoreTokens(seqs);
    for (const threads of [undefined, nodeKernelThreads(3)]) {
      const fast = await FastCpuCausalLM.load(m.config, m.weights, { threads });
      try {
        expect(fast.description).toContain(`${dtype} weights`);
        const got = await fast.scoreTokens(seqs);
        expect(maxAbsDiff(got[0], expected[0])).toBeLessThan(2e-4);
        expect(maxAbsDiff(got[1], expected[1])).toBeLessThan(2e-4);
      } finally {
        fast.dispose();
      }
    }
  });
});

/** Scores `seqs` on one thread and on three: the same bits, and within 2e-4 of the f32 reference. */
async function expectSameBitsOnThreeThreads(m: Awaited<ReturnType<typeof openTinyModel>>, seqs: Int32Array[]): Promise<void> {
  const one = await FastCpuCausalLM.load(m.config, m.weights);
  const three = await FastCpuCausalLM.load(m.config, m.weights, { threads: nodeKernelThreads(3) });
  try {
    const [a] = await one.scoreTokens(seqs);
    const [b] = await three.scoreTokens(seqs);
    expect(Array.from(b)).toEqual(Array.from(a));
    const [ref] = await (await CpuCausalLM.load(m.config, m.weights)).scoreTokens(seqs);
    expect(maxAbsDiff(b, ref)).toBeLessThan(2e-4);
  } finally {
    one.dispose();
    three.dispose();
  }
}

test('matmuls, SwiGLU and the log-sum-exp split over 3 threads (a wide MLP, a 2 k vocabulary): the same bits as on one thread', async () => {
  const m = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 8, intermediateSize: 768, vocabPadding: 2048 });
  // 128 tokens × 768 = 98,304 SwiGLU elements, 64 rows × ≥ 2,048 logits per step, and the MLP's and the
  // output layer's matmuls over 4 M multiply-adds: enough for 3 parts each.
  const seqs = [ids(140, m.config.vocabSize, 4)];
  await expectSameBitsOnThreeThreads(m, seqs);
});

test('attention\'s softmax split over 3 threads at a context of 512: the same bits as on one thread, within 2e-4 of the reference', async () => {
  const m = await openTinyModel({ architecture: 'llama', dtype: 'BF16', seed: 9 });
  // The steps after the first see ≥ 128 cached positions: each head's 128 rows of softmax split in parts.
  const seqs = [ids(m.config.maxPositionEmbeddings, m.config.vocabSize, 5)];
  await expectSameBitsOnThreeThreads(m, seqs);
});

test('qwen3 with head_dim 32 ≠ hidden / heads, untied output: logits equal the reference on 2 threads', async () => {
  const shape = { hiddenSize: 48, numHeads: 4, numKvHeads: 1, headDim: 32, intermediateSize: 80, numLayers: 3, tieWordEmbeddings: false };
  const m = await openTinyModel({ architecture: 'qwen3', dtype: 'BF16', seed: 5, ...shape });
  const seq = ids(21, m.config.vocabSize, 3);
  const want = await (await CpuCausalLM.load(m.config, m.weights)).logits(seq);
  const fast = await FastCpuCausalLM.load(m.config, m.weights, { threads: nodeKernelThreads(2) });
  expect(maxAbsDiff(await fast.logits(seq), want)).toBeLessThan(2e-4);
  fast.dispose();
});

describe('FastCpuCausalLM', () => {
  test('generate picks the reference\'s tokens; reloadWeights swaps the model and back', async () => {
    const base = await openTinyModel({ architecture: 'mistral', dtype: 'BF16', seed: 6 });
    const tuned = await openTinyModel({ architecture: 'mistral', dtype: 'BF16', seed: 6, deltaSeed: 9 });
    const prompt = Int32Array.from(base.tokenizer!.encode('Souping fine-tunes of one base model.'));
    const fast = await FastCpuCausalLM.load(base.config, base.weights, { threads: nodeKernelThreads(2) });
    const reference = await CpuCausalLM.load(base.config, base.weights);
    expect(Array.from(await fast.generate(prompt, 5))).toEqual(Array.from(await reference.generate(prompt, 5)));
    const [before] = await fast.scoreTokens([prompt]);
    await fast.reloadWeights(tuned.weights);
    const [after] = await fast.scoreTokens([prompt]);
    await reference.reloadWeights(tuned.weights);
    expect(maxAbsDiff(after, (await reference.scoreTokens([prompt]))[0])).toBeLessThan(2e-4);
    expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-3);
    await fast.reloadWeights(base.weights);
    expect(Array.from((await fast.scoreTokens([prompt]))[0])).toEqual(Array.from(before));
    fast.dispose();
  });

  test('bad ids, over-long sequences and cancel are refused before any work; F16 Inf weights are refused', async () => {
    const m = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16' });
    const fast = await FastCpuCausalLM.load(m.config, m.weights);
    await expect(fast.scoreTokens([Int32Array.of(1, m.config.vocabSize)])).rejects.toThrow(`token id ${m.config.vocabSize} at position 1 is outside the vocabulary`);
    await expect(fast.scoreTokens([new Int32Array(m.config.maxPositionEmbeddings + 2)])).rejects.toThrow(InputError);
    const controller = new AbortController();
    controller.abort();
    await expect(fast.scoreTokens([Int32Array.of(1, 2, 3)], { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    fast.dispose();

    const f16 = await openTinyModel({ architecture: 'qwen2', dtype: 'F16' });
    const name = 'model.layers.1.mlp.up_proj.weight';
    const broken = { ...f16.weights, streamBytes: undefined, readF32: async (n: string) => {
      const v = await f16.weights.readF32(n);
      if (n === name) v[5] = Infinity;
      return v;
    }, streamF32: undefined };
    await expect(FastCpuCausalLM.load(f16.config, broken, { name: 'broken' })).rejects.toThrow(`broken: tensor ${name} holds Inf or NaN (F16 element 5)`);
  });
});

test('a model larger than its WebAssembly memory: weights held outside it and staged a chunk of rows at a time give the same logits, bit for bit', async () => {
  // A vocabulary of 8n + 1 rows: with the smallest staging (two rows of the widest input, f32: 1,024 bytes)
  // the 64-wide BF16 output matrix is staged 8 rows at a time, and its last chunk is a lone row.
  const base = (await openTinyModel({ architecture: 'llama', dtype: 'BF16', seed: 12 })).config.vocabSize;
  const m = await openTinyModel({ architecture: 'llama', dtype: 'BF16', seed: 12, tieWordEmbeddings: false, vocabPadding: ((1 - base) % 8 + 8) % 8 || 8 });
  expect(m.config.vocabSize % 8).toBe(1);
  const seq = ids(150, m.config.vocabSize, 5);
  const inside = await FastCpuCausalLM.load(m.config, m.weights, { threads: nodeKernelThreads(2) });
  const want = await inside.logits(seq);
  const wantTokens = await inside.generate(seq.subarray(0, 9), 4);
  // Room for the activations, not for the weights beside them (they exceed a page's rounding twice over).
  expect(inside.weightBytes).toBeGreaterThan(2 * 65536);
  const limit = inside.memoryBytes - inside.weightBytes + 65536;
  const insideBytes = inside.memoryBytes;
  inside.dispose();
  const outside = await FastCpuCausalLM.load(m.config, m.weights, { threads: nodeKernelThreads(2), memoryLimitBytes: limit, stagingBytes: 1 });
  try {
    expect(outside.description).toContain('BF16 weights held outside WebAssembly memory');
    expect(outside.memoryBytes).toBeLessThan(insideBytes);
    expect(Array.from(await outside.logits(seq))).toEqual(Array.from(want));
    expect(Array.from(await outside.generate(seq.subarray(0, 9), 4))).toEqual(Array.from(wantTokens));
  } finally {
    outside.dispose();
  }
  await expect(FastCpuCausalLM.load(m.config, m.weights, { name: 'huge', memoryLimitBytes: 65536 })).rejects.toThrow(/^huge: its activations and the staging of its weights need 0\.\d\d GB, more than the 0\.00 GB one WebAssembly memory holds/);
});

test('helper threads that never start are dropped: the model still scores, on one thread', async () => {
  // A wide MLP over 130 tokens: its matmuls are large enough to be split (and to wait for the helpers).
  const m = await openTinyModel({ architecture: 'llama', dtype: 'BF16', seed: 8, intermediateSize: 768 });
  const seq = ids(130, m.config.vocabSize, 4);
  const [want] = await (await CpuCausalLM.load(m.config, m.weights)).scoreTokens([seq]);
  // Threads whose script never runs (as a worker blocked by a page's policy).
  const dead = { count: 3, startTimeoutMs: 100, spawn: () => ({ start: () => undefined, terminate: () => undefined }) };
  const fast = await FastCpuCausalLM.load(m.config, m.weights, { threads: dead });
  const [got] = await fast.scoreTokens([seq]);
  expect(maxAbsDiff(got, want)).toBeLessThan(2e-4);
  expect(fast.description).toContain('1 thread,');
  fast.dispose();
}, 120_000);

test("createCausalLM: 'cpu' is the fast model, 'cpu-reference' the referee; a shape the kernel cannot take falls back to the referee", async () => {
  const m = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 3 });
  const fast = await createCausalLM(m.config, m.weights, { backend: 'cpu' });
  expect(fast).toBeInstanceOf(FastCpuCausalLM);
  fast.dispose();
  expect(await createCausalLM(m.config, m.weights, { backend: 'cpu-reference' })).toBeInstanceOf(CpuCausalLM);
  // head_dim 12: not a multiple of the kernel's 8 values per step.
  const odd = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', hiddenSize: 48, numHeads: 4, numKvHeads: 2 });
  expect(FastCpuCausalLM.unsupported(odd.config)).toBe('its head_dim (12) is not a multiple of 8');
  expect(await createCausalLM(odd.config, odd.weights, { backend: 'cpu' })).toBeInstanceOf(CpuCausalLM);
  await expect(FastCpuCausalLM.load(odd.config, odd.weights, { name: 'odd' })).rejects.toThrow('odd: the fast CPU runtime cannot run this model: its head_dim (12) is not a multiple of 8');
});
