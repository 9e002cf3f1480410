/**
 * `souplab merge recipe.yaml --out soup.gguf`: a soup of two tiny Qwen2 fine-tunes written as GGUF, loaded by
 * llama.cpp (node-llama-cpp), gives the log-probs of SoupLab's CPU forward pass over the same soup averaged
 * here in the test; bad input is refused before merging and leaves nothing behind.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { tinyModel, type TinyModelOptions } from '../../scripts/tinyModel';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import type { WeightSource } from '../../src/model/types';
import { openTinyModel, tempDir } from '../model/helpers';
import { cli } from '../support/cliInProcess';
import { maxLogProbGap } from '../support/llamaLogProbs';

// llama.cpp and the CPU model on a 2-core CI machine shared with other test files: generous, not tight.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let llama: Llama;
let dir: { path: string; remove: () => Promise<void> };

const BASE: TinyModelOptions = { architecture: 'qwen2', seed: 5 };
const TUNED: TinyModelOptions = { architecture: 'qwen2', seed: 5, deltaSeed: 77, deltaScale: 0.5 };

async function writeFolder(path: string, options: TinyModelOptions, edit?: (files: Map<string, Uint8Array>) => void): Promise<void> {
  const { files } = await tinyModel(options);
  edit?.(files);
  mkdirSync(path, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(path, name), bytes);
}

beforeAll(async () => {
  dir = await tempDir();
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  await writeFolder(join(dir.path, 'base'), BASE);
  await writeFolder(join(dir.path, 'tuned'), TUNED);
  await writeFolder(join(dir.path, 'gpt2'), BASE, (files) => {
    const config = JSON.parse(new TextDecoder().decode(files.get('config.json'))) as Record<string, unknown>;
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'] })));
  });
  const recipe = (a: string, b: string) =>
    `merge_method: linear\nbase_model: ${a}\nmodels:\n  - model: ${a}\n    parameters:\n      weight: 0.5\n  - model: ${b}\n    parameters:\n      weight: 0.5\ndtype: float32\n`;
  await writeFolder(join(dir.path, 'bare'), BASE, (files) => {
    files.delete('tokenizer.json');
    files.delete('tokenizer_config.json');
  });
  await writeFolder(join(dir.path, 'no-template'), BASE, (files) => files.delete('tokenizer_config.json'));
  writeFileSync(join(dir.path, 'soup.yaml'), recipe('base', 'tuned'));
  writeFileSync(join(dir.path, 'gpt2.yaml'), recipe('gpt2', 'tuned'));
  writeFileSync(join(dir.path, 'bare.yaml'), recipe('bare', 'tuned'));
  writeFileSync(join(dir.path, 'no-template.yaml'), recipe('no-template', 'tuned'));
  writeFileSync(join(dir.path, 'f64.yaml'), recipe('base', 'tuned').replace('dtype: float32', 'dtype: float64'));
});

afterAll(async () => {
  await llama?.dispose();
  await dir?.remove();
});

test('merge --out soup.gguf: llama.cpp scores the soup as the CPU runtime scores the same average', async () => {
  const out = join(dir.path, 'soup.gguf');
  const run = await cli(['merge', join(dir.path, 'soup.yaml'), '--out', out, '--gguf-type', 'f32', '--backend', 'cpu']);
  expect(run.stderr).not.toMatch(/error/);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/as GGUF f32/);
  expect(readdirSync(dir.path).filter((f) => f.startsWith('.'))).toEqual([]);

  // The soup, averaged here from the two models' weights.
  const a = await openTinyModel(BASE);
  const b = await openTinyModel(TUNED);
  const soup: WeightSource = {
    ...a.weights,
    async readF32(name) {
      const [x, y] = [await a.weights.readF32(name), await b.weights.readF32(name)];
      return x.map((v, i) => 0.5 * v + 0.5 * y[i]);
    },
  };
  const lm = await CpuCausalLM.load(a.config, soup);
  const ids = a.tokenizer!.encode('A soup of models is the average of their weights, and it often beats each of them.');
  const [ours] = await lm.scoreTokens([Int32Array.from(ids)]);

  const model = await llama.loadModel({ modelPath: out });
  try {
    expect(await maxLogProbGap(model, ids, ours)).toBeLessThan(2e-4);
  } finally {
    await model.dispose();
  }
});

test('merge --out x.gguf refuses an unsupported architecture before merging, and writes nothing', async () => {
  const out = join(dir.path, 'gpt2.gguf');
  const run = await cli(['merge', join(dir.path, 'gpt2.yaml'), '--out', out, '--backend', 'cpu', '--quiet']);
  expect(run.code).toBe(2);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(/architecture GPT2LMHeadModel is not supported; SoupLab runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir.path).filter((f) => f.startsWith('.'))).toEqual([]);
});

test('--gguf-type is checked', async () => {
  const bad = await cli(['merge', join(dir.path, 'soup.yaml'), '--out', join(dir.path, 'x.gguf'), '--gguf-type', 'q4_k']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--gguf-type must be one of f32, f16, bf16, q8_0/);
  const notGguf = await cli(['merge', join(dir.path, 'soup.yaml'), '--out', join(dir.path, 'x.safetensors'), '--gguf-type', 'f16']);
  expect(notGguf.code).toBe(2);
  expect(notGguf.stderr).toMatch(/--gguf-type applies to a \.gguf output/);
});

test('merge --out x.gguf: a base model without tokenizer.json, or an F64 soup, is refused in one line before merging; nothing written', async () => {
  for (const [recipe, message] of [
    ['bare.yaml', /^souplab merge: bare: no tokenizer\.json beside the weights; a GGUF file needs the base model's config\.json and tokenizer\.json \(add the checkpoint's whole folder, not only its \.safetensors\)$/],
    ['f64.yaml', /^souplab merge: tensor .+ would be F64, which GGUF does not hold; set the recipe's dtype \(float32, bfloat16 or float16\)$/],
  ] as const) {
    const out = join(dir.path, `${recipe}.gguf`);
    const run = await cli(['merge', join(dir.path, recipe), '--out', out, '--backend', 'cpu', '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(message);
    expect(existsSync(out)).toBe(false);
  }
  expect(readdirSync(dir.path).filter((f) => f.startsWith('.'))).toEqual([]);
});

test('merge --out x.gguf without tokenizer_config.json: written, with a note that it has no chat template', async () => {
  const out = join(dir.path, 'no-template.gguf');
  const run = await cli(['merge', join(dir.path, 'no-template.yaml'), '--out', out, '--backend', 'cpu']);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/^note: no-template has no tokenizer_config\.json: the GGUF gets no chat template$/m);
  expect(run.stdout).toMatch(/as GGUF f32/);
  expect(run.stdout).toMatch(/verified {2}the written header re-read and checked/);
  const model = await llama.loadModel({ modelPath: out });
  try {
    expect(model.fileInfo.metadata.general.name).toBe('no-template');
    expect(model.fileInfo.metadata.tokenizer?.chat_template).toBeUndefined();
  } finally {
    await model.dispose();
  }
});
