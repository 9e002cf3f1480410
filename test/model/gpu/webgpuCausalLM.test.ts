// The WGSL forward pass (WebGpuCausalLM, Dawn + SwiftShader) against the CPU twin (CpuCausalLM) on
// tiny generated models of every architecture and weight dtype: per-token log-probs of whole
// sequences scored in packed batches, greedy generation, weights reloaded, tensors cut into parts,
// and the refusal of a model that does not fit.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TinyModelOptions } from '../../../scripts/tinyModel';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import type { KernelFeatures } from '../../../src/model/gpu/modelShaders';
import { LAYERS_PER_SUBMIT, ModelDoesNotFitError, WebGpuCausalLM } from '../../../src/model/gpu/webgpuCausalLM';
import { CancelledError } from '../../../src/errors';
import { CpuCausalLM } from '../../../src/model/cpu/cpuCausalLM';
import { createCausalLM } from '../../../src/model/create';
import type { Architecture } from '../../../src/model/types';
import { nodeGPU } from '../../../src/node/webgpu';
import { openTinyModel } from '../helpers';

// Software WebGPU (SwiftShader) on a busy 2-core CI machine: compiling the kernels for a dtype and a
// dozen forwards of a tiny model take tens of seconds.
vi.setConfig({ testTimeout: 300_000 });

let ctx: SoupDevice;
beforeAll(async () => {
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'model tests');
});
afterAll(() => ctx?.destroy());

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'A soup of models is the average of their weights, and the best soup is found by tasting many of them on the tasks that matter: reading, arithmetic, code and conversation.',
  'Hi',
];

/** Max |Δ| over all positions, and whether every position's sign of Δ… is irrelevant: the worst difference. */
function worst(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    x.forEach((v, t) => {
      m = Math.max(m, Math.abs(v - b[i][t]));
      expect(Number.isFinite(v), `sequence ${i} position ${t} is ${v}`).toBe(true);
    });
  });
  return m;
}

// The adapter (SwiftShader) offers subgroups, so the model uses them by default; `kernels` forces the
// fallback (workgroup-memory reductions) on some cases, so that both variants are tested end to end.
const CASES: { arch: Architecture; dtype: 'F32' | 'F16' | 'BF16'; extra?: Partial<TinyModelOptions>; kernels?: Partial<KernelFeatures> }[] = [
  { arch: 'llama', dtype: 'F32' },
  { arch: 'mistral', dtype: 'F32', kernels: { subgroups: false } },
  { arch: 'qwen2', dtype: 'F32' },
  { arch: 'qwen3', dtype: 'F32' },
  { arch: 'llama', dtype: 'BF16', extra: { numKvHeads: 1, vocabPadding: 13 } },
  { arch: 'qwen2', dtype: 'F16', extra: { tieWordEmbeddings: false }, kernels: { subgroups: false } },
  { arch: 'qwen3', dtype: 'BF16', extra: { headDim: 32 } },
  { arch: 'mistral', dtype: 'F16' },
];

describe('WebGpuCausalLM vs CpuCausalLM on tiny models', () => {
  for (const { arch, dtype, extra, kernels } of CASES) {
    it(`${arch} ${dtype}${extra ? ` ${JSON.stringify(extra)}` : ''}${kernels?.subgroups === false ? ' without subgroups' : ''}: log-probs within 1e-4, same greedy tokens`, async () => {
      const m = await openTinyModel({ architecture: arch, dtype, seed: 3, ...extra });
      const tok = m.tokenizer!;
      const seqs = TEXTS.map((t) => Int32Array.from(tok.encode(t)));
      seqs.push(Int32Array.of(5), new Int32Array(0), Int32Array.from({ length: 70 }, (_, i) => (i * 37) % m.config.vocabSize));
      const cpu = await CpuCausalLM.load(m.config, m.weights);
      // Batches of 64 tokens: several batches, packed sequences, and the 70-token one alone.
      const gpu = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, batchTokens: 64, kernels });
      expect(gpu.kernelFeatures).toEqual({ f16: false, subgroups: kernels?.subgroups ?? true });
      try {
        const want = await cpu.scoreTokens(seqs);
        const progress: number[] = [];
        const got = await gpu.scoreTokens(seqs, { onProgress: (d) => progress.push(d) });
        const d = worst(got, want);
        console.log(`parity ${arch} ${dtype}: max |Δ log-prob| = ${d.toExponential(2)} over ${want.reduce((s, x) => s + x.length, 0)} tokens`);
        expect(d).toBeLessThan(1e-4);
        expect(got[3].length).toBe(0);
        expect(got[4].length).toBe(0);
        expect(progress.at(-1)).toBe(want.reduce((s, x) => s + x.length, 0));

        // Greedy: the prompt longer than a batch is prefilled in chunks.
        const prompt = seqs[5];
        const [g, c] = await Promise.all([gpu.generate(prompt, 6), cpu.generate(prompt, 6)]);
        expect(Array.from(g)).toEqual(Array.from(c));
        expect(Array.from(await gpu.generate(seqs[0], 3))).toEqual(Array.from(await cpu.generate(seqs[0], 3)));
      } finally {
        gpu.dispose();
        cpu.dispose();
      }
    });
  }
});

describe('WebGpuCausalLM: a batch in several submits', () => {
  it(`${LAYERS_PER_SUBMIT * 2 + 1} layers (three submits per batch): the CPU model's scores; a cancel is seen between submits, and the model scores on`, async () => {
    const m = await openTinyModel({ architecture: 'llama', dtype: 'BF16', seed: 12, numLayers: LAYERS_PER_SUBMIT * 2 + 1 });
    const seqs = TEXTS.map((t) => Int32Array.from(m.tokenizer!.encode(t)));
    const gpu = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx });
    const cpu = await CpuCausalLM.load(m.config, m.weights);
    const queue = ctx.device.queue;
    const submit = queue.submit.bind(queue);
    try {
      const want = await cpu.scoreTokens(seqs);
      expect(worst(await gpu.scoreTokens(seqs), want)).toBeLessThan(1e-4);

      // Cancelled as the batch's first submit goes to the GPU: the rest of the forward is never submitted.
      const cancel = new AbortController();
      let submits = 0;
      queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
        submits++;
        cancel.abort();
        submit(buffers);
      };
      await expect(gpu.scoreTokens(seqs, { signal: cancel.signal })).rejects.toBeInstanceOf(CancelledError);
      expect(submits).toBeLessThan(3);
      queue.submit = submit;
      expect(worst(await gpu.scoreTokens(seqs), want)).toBeLessThan(1e-4);
    } finally {
      queue.submit = submit;
      gpu.dispose();
      cpu.dispose();
    }
  });
});

describe('WebGpuCausalLM: weights, parts, fit', () => {
  it('reloadWeights swaps in a fine-tune: scores equal the CPU model of the fine-tune', async () => {
    const base = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 4 });
    const tuned = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 4, deltaSeed: 9, deltaScale: 0.5 });
    const seqs = TEXTS.map((t) => Int32Array.from(base.tokenizer!.encode(t)));
    const gpu = await WebGpuCausalLM.create(base.config, base.weights, { device: ctx });
    const cpuTuned = await CpuCausalLM.load(tuned.config, tuned.weights);
    try {
      const before = await gpu.scoreTokens(seqs);
      await gpu.reloadWeights(tuned.weights);
      const after = await gpu.scoreTokens(seqs);
      expect(worst(after, await cpuTuned.scoreTokens(seqs))).toBeLessThan(1e-4);
      expect(worst(after, before)).toBeGreaterThan(1e-2);
      // What the search writes into: one buffer per tensor, in the checkpoint's dtype.
      const q = gpu.weightBuffer('model.layers.0.self_attn.q_proj.weight');
      expect(q.dtype).toBe('BF16');
      expect(q.byteLength).toBe(64 * 64 * 2);
      expect(q.buffer.usage & GPUBufferUsage.COPY_DST).toBeTruthy();
    } finally {
      gpu.dispose();
    }
  });

  it('an embedding and LM head larger than one binding are cut into parts and give the same scores', async () => {
    const m = await openTinyModel({ architecture: 'llama', dtype: 'F16', seed: 5, vocabPadding: 7 });
    const seqs = TEXTS.map((t) => Int32Array.from(m.tokenizer!.encode(t)));
    const whole = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx });
    // 40 KiB bindings: the embedding and LM head (vocab × 64 × 2 bytes) in two parts; batches of at most 80 tokens.
    const cut = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, maxBindingBytes: 40 * 1024 });
    try {
      expect(cut.weightParts('model.embed_tokens.weight').parts.length).toBeGreaterThan(1);
      expect(cut.weightParts('lm_head.weight').parts.length).toBeGreaterThan(1);
      expect(() => cut.weightBuffer('lm_head.weight')).toThrow(/held in \d+ buffers .*use weightParts/);
      expect(cut.fit.splitTensors.map((s) => s.name)).toContain('model.embed_tokens.weight');
      expect(worst(await cut.scoreTokens(seqs.slice(0, 1)), await whole.scoreTokens(seqs.slice(0, 1)))).toBeLessThan(1e-6);
      await expect(cut.scoreTokens(seqs)).rejects.toThrow(/sequence 1 has \d+ tokens; this GPU's binding limit allows at most 80 in one pass/);
      expect(Array.from(await cut.generate(seqs[1], 4))).toEqual(Array.from(await whole.generate(seqs[1], 4)));
    } finally {
      whole.dispose();
      cut.dispose();
    }
  });

  it('refuses a model that does not fit, with the numbers', async () => {
    const m = await openTinyModel({ architecture: 'qwen3', dtype: 'F32', seed: 6 });
    const err = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, memoryBudgetBytes: 100_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDoesNotFitError);
    expect((err as Error).message).toMatch(/^the model does not fit this GPU: the model needs \d+(\.\d+)? [KM]B of GPU memory \(\d+(\.\d+)? [KM]?B of F32 weights \+ \d+(\.\d+)? [KM]B for batches of 512 tokens\), the adapter offers 100 KB .*maxBufferSize/);
    // A row of the embedding larger than one binding cannot be cut.
    const tooSmall = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, maxBindingBytes: 200 }).catch((e: unknown) => e);
    expect(tooSmall).toBeInstanceOf(ModelDoesNotFitError);
    expect((tooSmall as Error).message).toMatch(/model\.embed_tokens\.weight .*row of 256 bytes is larger than one GPU binding of 200 bytes/);
  });

  it('multiple-choice items: the choices\' common context is computed once, with the same log-probs', async () => {
    const m = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 10 });
    const V = m.config.vocabSize;
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i * 7) % V);
    // Two items: a context of 30 (then 12) tokens and 4 (then 2) choices of 1–3 tokens; one plain sequence between.
    const item = (context: number[], choices: number[][]) => choices.map((c) => Int32Array.from([...context, ...c]));
    const seqs = [...item(ids(1, 30), [[5], [6, 7], [8, 9, 10], [11]]), Int32Array.from(ids(50, 9)), ...item(ids(3, 12), [[20, 21], [22]])];
    const cpu = await CpuCausalLM.load(m.config, m.weights);
    const shared = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, batchTokens: 128 });
    const unshared = await WebGpuCausalLM.create(m.config, m.weights, { device: ctx, batchTokens: 128, shareContext: false });
    try {
      const want = await cpu.scoreTokens(seqs);
      const got = await shared.scoreTokens(seqs);
      expect(worst(got, want)).toBeLessThan(1e-4);
      expect(worst(await unshared.scoreTokens(seqs), want)).toBeLessThan(1e-4);
      // Rows: item 1's first choice whole (31), the others their tail + the context's last token (3 + 4 + 2);
      // the plain sequence (9); item 2's first choice (14) and the second (2).
      expect(shared.rowsScored).toBe(31 + 3 + 4 + 2 + 9 + 14 + 2);
      expect(unshared.rowsScored).toBe(seqs.reduce((n, s) => n + s.length, 0));
    } finally {
      shared.dispose();
      unshared.dispose();
      cpu.dispose();
    }
  });

  it('a kernel feature the device lacks is refused when forced on, in words', async () => {
    const m = await openTinyModel({ architecture: 'llama', dtype: 'F16', seed: 8 });
    expect(ctx.device.features.has('shader-f16')).toBe(false);
    await expect(WebGpuCausalLM.create(m.config, m.weights, { device: ctx, kernels: { f16: true } })).rejects.toThrow(
      'the GPU device does not offer the WebGPU feature shader-f16, which was asked for',
    );
  });

  it('createCausalLM gives either backend; bad ids and a disposed model are refused in words', async () => {
    const m = await openTinyModel({ architecture: 'mistral', dtype: 'F32', seed: 7 });
    const gpu = await createCausalLM(m.config, m.weights, { backend: 'webgpu', device: ctx });
    const cpu = await createCausalLM(m.config, m.weights, { backend: 'cpu' });
    expect([gpu.backend, cpu.backend]).toEqual(['webgpu', 'cpu']);
    await expect(gpu.scoreTokens([Int32Array.of(1, m.config.vocabSize)])).rejects.toThrow(/token id \d+ at position 1 is outside the vocabulary/);
    await expect(gpu.generate(new Int32Array(0), 3)).rejects.toThrow(/at least one token/);
    const long = Int32Array.from({ length: m.config.maxPositionEmbeddings + 1 }, (_, i) => i % 50);
    await expect(gpu.scoreTokens([long])).rejects.toThrow(/sequence 0 has \d+ tokens, more than the model's context of \d+/);
    const windowed = await createCausalLM({ ...m.config, slidingWindow: 16 }, m.weights, { backend: 'webgpu', device: ctx });
    await expect(windowed.scoreTokens([long.subarray(0, 17)])).rejects.toThrow(/more than the model's sliding attention window of 16/);
    expect((await windowed.generate(long.subarray(0, 14), 10)).length).toBeLessThanOrEqual(3);
    windowed.dispose();
    const cancelled = new AbortController();
    cancelled.abort();
    await expect(gpu.scoreTokens([Int32Array.of(1, 2, 3)], { signal: cancelled.signal })).rejects.toThrow(/cancelled/);
    gpu.dispose();
    await expect(gpu.scoreTokens([Int32Array.of(1, 2)])).rejects.toThrow(/disposed/);
    cpu.dispose();
  });
});
