/**
 * llama.cpp as the referee (issue 9 §4): SoupLab's GGUF export of generated tiny models of each architecture,
 * loaded by llama.cpp (node-llama-cpp 3.21.1, its prebuilt CPU binary), must tokenise like SoupLab's tokenizer
 * and give the per-token log-probs of SoupLab's CPU forward pass. At F32 weights and F32 KV cache the two
 * agree to ~2e-6 (flash attention off, as it rounds Q to F16 on the CPU); the bound is 2e-3, asserted
 * here as 2e-4, and the argmax must be the same everywhere. F16/BF16 files are compared
 * with the CPU twin on the same (16-bit) weights: what remains is llama.cpp rounding its activations (see
 * ../shared/notes/models.md for the expected sizes). Q8_0 is compared with the F32 model.
 */
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token, type ControlledEvaluateInputItem } from 'node-llama-cpp';
import { requestAdapter } from '../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../src/gpu/device';
import { WebGpuCausalLM } from '../../src/model/gpu/webgpuCausalLM';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { nodeGPU } from '../../src/node/webgpu';
import type { Architecture } from '../../src/model/types';
import type { GgufFileType } from '../../src/model/gguf/writeGguf';
import type { TinyModelOptions } from '../../scripts/tinyModel';
import { exportGguf, openTinyModel, tempDir } from './helpers';

const TEXT =
  'The model reads the question, thinks, and answers: 3.14159 is close to pi. Café über naïve — 日本語! "It\'s what they\'d done," she said.';

const TOKENISATION_TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'Hello,  world!\r\n\r\n\ttabs\t\tand   runs of    spaces   ',
  'Unicode: Café, naïve, smörgåsbord, Привет мир, 日本語のテキスト, 😀🦙 ✓',
  "Numbers 1234567 3.14 and contractions: it's, they'll, I'M, we'VE",
  '',
  ' leading space',
  '\n\n\n',
  'digits 1 12 123 1234 12345 3.14159 2025-11-27\r\n\r\n  end',
];

// llama.cpp and the CPU model on a 2-core CI machine shared with other test files: generous, not tight.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let llama: Llama;
let device: SoupDevice | undefined;

/** One WebGPU device for the file (Dawn; SwiftShader where no GPU is). */
async function gpuDevice(): Promise<SoupDevice> {
  device ??= await createSoupDevice(await requestAdapter(await nodeGPU()), 'llama.cpp referee');
  return device;
}
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  dir = await tempDir();
});

afterAll(async () => {
  device?.destroy();
  await llama?.dispose();
  await dir?.remove();
});

interface Comparison {
  maxAbs: number;
  meanAbs: number;
  argmaxAgree: number;
  positions: number;
  /** The WGSL forward pass's (Dawn) largest difference from llama.cpp, when it was run. */
  wgslMaxAbs?: number;
}

/** llama.cpp's log p(ids[t+1] | ids[0..t]) for every t, and its argmax at every position (F32 KV cache). */
async function llamaLogProbs(model: LlamaModel, ids: readonly number[]): Promise<{ logProbs: number[]; argmax: number[] }> {
  const context = await model.createContext({
    contextSize: 256,
    sequences: 1,
    threads: 2,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    // llama.cpp's CPU flash attention rounds Q to F16 (log-probs move by ~2e-3); the plain path is f32 throughout.
    flashAttention: false,
  });
  try {
    const sequence = context.getSequence();
    const tokens = ids as unknown as readonly Token[];
    const out = await sequence.controlledEvaluate(
      tokens.map((id, t): ControlledEvaluateInputItem => (t + 1 < tokens.length ? [id, { generateNext: { probabilities: true } }] : id)),
    );
    const logProbs: number[] = [];
    const argmax: number[] = [];
    for (let t = 0; t + 1 < ids.length; t++) {
      const probs = out[t]?.next?.probabilities;
      if (!probs) throw new Error(`llama.cpp gave no probabilities at position ${t}`);
      logProbs.push(Math.log(probs.get(tokens[t + 1]) ?? 0));
      argmax.push(probs.entries().next().value?.[0] ?? -1);
    }
    return { logProbs, argmax };
  } finally {
    await context.dispose();
  }
}

async function compare(
  architecture: Architecture,
  sourceDtype: 'F32' | 'F16' | 'BF16',
  ggufType: GgufFileType,
  shape: Partial<TinyModelOptions> = {},
  withWgsl = false,
): Promise<Comparison> {
  const model = await openTinyModel({ architecture, dtype: sourceDtype, seed: 11, ...shape });
  const path = await exportGguf(model, dir.path, ggufType);
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new Error('no tokenizer');
  const ids = tokenizer.encode(TEXT);
  const lm = await CpuCausalLM.load(model.config, model.weights);
  const [ours] = await lm.scoreTokens([Int32Array.from(ids)]);
  let wgsl: Float32Array | undefined;
  if (withWgsl) {
    const gpu = await WebGpuCausalLM.create(model.config, model.weights, { device: await gpuDevice() });
    try {
      [wgsl] = await gpu.scoreTokens([Int32Array.from(ids)]);
    } finally {
      gpu.dispose();
    }
  }
  const V = model.config.vocabSize;
  const logits = await lm.logits(Int32Array.from(ids.slice(0, -1)));
  const oursArgmax = ours.map((_, t) => {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[t * V + j] > logits[t * V + best]) best = j;
    return best;
  });
  const llamaModel = await llama.loadModel({ modelPath: path });
  try {
    const theirs = await llamaLogProbs(llamaModel, ids);
    let maxAbs = 0;
    let sum = 0;
    let agree = 0;
    for (let t = 0; t < ours.length; t++) {
      const d = Math.abs(ours[t] - theirs.logProbs[t]);
      maxAbs = Math.max(maxAbs, d);
      sum += d;
      if (oursArgmax[t] === theirs.argmax[t]) agree++;
    }
    const wgslMaxAbs = wgsl ? Math.max(...Array.from(wgsl, (v, t) => Math.abs(v - theirs.logProbs[t]))) : undefined;
    const result = { maxAbs, meanAbs: sum / ours.length, argmaxAgree: agree, positions: ours.length, wgslMaxAbs };
    console.log(`${architecture} ${sourceDtype} weights → GGUF ${ggufType}: max |Δ log p| ${maxAbs.toExponential(2)}, mean ${result.meanAbs.toExponential(2)}, argmax ${agree}/${ours.length}` + (wgslMaxAbs === undefined ? '' : `; WGSL max |Δ log p| ${wgslMaxAbs.toExponential(2)}`));
    return result;
  } finally {
    await llamaModel.dispose();
  }
}

/**
 * Words on which merge order decides the tokens: x·y·z where both "xy" and "yz" are merges and "yz" ranks
 * first — BPE makes x + yz, a tokenizer that merges left to right makes xy + z.
 */
function mergeOrderText(tokenizerJson: Record<string, unknown> | null): string {
  const model = tokenizerJson?.model as { merges: [string, string][] };
  const rank = new Map(model.merges.map(([a, b], i) => [`${a} ${b}`, i]));
  const single = (t: string) => [...t].length === 1 && t !== '\u2581';
  const words: string[] = [];
  for (const [x, y] of model.merges) {
    if (!single(x) || !single(y)) continue;
    for (const [y2, z] of model.merges) {
      if (y2 === y && single(z) && (rank.get(`${y} ${z}`) as number) < (rank.get(`${x} ${y}`) as number)) words.push(x + y + z);
    }
  }
  expect(words.length).toBeGreaterThan(5);
  return words.join(' ');
}

/** llama.cpp's tokens for texts and a chat equal tokenizer.json's; BOS and EOS agree; detokenising round-trips. */
async function expectSameTokenisation(architecture: Architecture, options: Partial<TinyModelOptions> = {}): Promise<void> {
  const model = await openTinyModel({ architecture, ...options });
  const path = await exportGguf(model, dir.path, 'f32');
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new Error('no tokenizer');
  const llamaModel = await llama.loadModel({ modelPath: path });
  try {
    const chat = tokenizer.applyChatTemplate(
      [
        { role: 'user', content: 'What is a soup of models?' },
        { role: 'assistant', content: 'An average of fine-tunes.' },
      ],
      { addGenerationPrompt: architecture !== 'mistral' },
    );
    for (const text of [...TOKENISATION_TEXTS, chat, ...(options.tokenizerKind === 'sentencepiece' ? [mergeOrderText(model.tokenizerJson)] : [])]) {
      expect(llamaModel.tokenize(text, true), JSON.stringify(text)).toEqual(tokenizer.encode(text, { addSpecialTokens: false }));
    }
    // BOS: added by both or by neither, and the same token.
    const withSpecials = tokenizer.encode('hello');
    const bosAdded = withSpecials.length > tokenizer.encode('hello', { addSpecialTokens: false }).length;
    expect(llamaModel.tokens.shouldPrependBosToken).toBe(bosAdded);
    if (bosAdded) expect(llamaModel.tokens.bos).toBe(withSpecials[0]);
    expect(llamaModel.tokens.eos).toBe(tokenizer.eosTokenId);
    expect(llamaModel.detokenize(llamaModel.tokenize(TOKENISATION_TEXTS[2]))).toBe(TOKENISATION_TEXTS[2]);
  } finally {
    await llamaModel.dispose();
  }
}

const ARCHITECTURES: Architecture[] = ['llama', 'mistral', 'qwen2', 'qwen3'];

describe.each(ARCHITECTURES)('%s', (architecture) => {
  // llama: Llama 3's split (llama.cpp's "llama-bpe"); qwen2/qwen3: Qwen2's ("qwen2"); mistral: GPT-2's ("gpt-2").
  test('llama.cpp tokenises the exported GGUF exactly as tokenizer.json does', () => expectSameTokenisation(architecture));

  test('F32: the CPU forward pass and the WGSL one (Dawn) give llama.cpp\'s log-probs within 2e-4, the same argmax', async () => {
    const r = await compare(architecture, 'F32', 'f32', {}, true);
    expect(r.maxAbs).toBeLessThan(2e-4);
    expect(r.argmaxAgree).toBe(r.positions);
    expect(r.wgslMaxAbs).toBeLessThan(2e-4);
  });

  test('F16 and BF16 weights: within the activation rounding llama.cpp adds', async () => {
    const f16 = await compare(architecture, 'F16', 'f16');
    expect(f16.maxAbs).toBeLessThan(1.5e-2);
    const bf16 = await compare(architecture, 'BF16', 'bf16');
    expect(bf16.maxAbs).toBeLessThan(0.1);
  });

  test('Q8_0: within the quantisation error of 8-bit blocks, argmax mostly kept', async () => {
    const q8 = await compare(architecture, 'F32', 'q8_0');
    expect(q8.maxAbs).toBeLessThan(0.4);
    expect(q8.meanAbs).toBeLessThan(0.1);
    expect(q8.argmaxAgree).toBeGreaterThanOrEqual(Math.floor(0.85 * q8.positions));
  });
});

test('qwen3 with head_dim 32 ≠ hidden 48 / 4 heads, one kv head for four, untied output, three layers', async () => {
  const shape = { hiddenSize: 48, numHeads: 4, numKvHeads: 1, headDim: 32, intermediateSize: 80, numLayers: 3, tieWordEmbeddings: false };
  const r = await compare('qwen3', 'F32', 'f32', shape);
  expect(r.maxAbs).toBeLessThan(2e-4);
  expect(r.argmaxAgree).toBe(r.positions);
  // Q8_0 keeps the 48-wide rows F16 (not divisible into 32-value blocks), as llama.cpp's converter does.
  const q8 = await compare('qwen3', 'F32', 'q8_0', shape);
  expect(q8.maxAbs).toBeLessThan(0.4);
});

// Llama 2 and Mistral 7B v0.1–v0.3 ship SentencePiece-converted tokenizer.json files (▁ for spaces, byte fallback):
// exported as llama.cpp's "llama" tokenizer, with scores that reproduce the BPE merge order.
describe.each(['mistral', 'llama'] as const)('%s with a SentencePiece-style tokenizer', (architecture) => {
  test('llama.cpp tokenises the exported GGUF exactly as tokenizer.json does', () => expectSameTokenisation(architecture, { tokenizerKind: 'sentencepiece' }));

  test('F32: the CPU forward pass gives llama.cpp\'s log-probs within 2e-4, the same argmax', async () => {
    const r = await compare(architecture, 'F32', 'f32', { tokenizerKind: 'sentencepiece' });
    expect(r.maxAbs).toBeLessThan(2e-4);
    expect(r.argmaxAgree).toBe(r.positions);
  });
});
