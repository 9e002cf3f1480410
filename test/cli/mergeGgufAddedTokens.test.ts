/**
 * A soup of fine-tunes that add tokens to their base (`tokenizer_source: union`), written as GGUF and
 * loaded by llama.cpp (node-llama-cpp): llama.cpp tokenizes the added tokens to the ids SoupLab wrote (the
 * merged folder's tokenizer.json, whose rows the merge permuted), and its log-probs over a text with added
 * tokens are those of SoupLab's CPU runtime over the same soup written as a folder.
 *
 * The fine-tunes: `chat` adds <tool_call> and </tool_call> (special) and <think> (not special); `tool` adds
 * <|tool|> and <think> at another id. Both are Llama models (an LM head of their own, so embedding and
 * head are both permuted), their embeddings one row per token.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { tinyModel, type TinyModelOptions } from '../../scripts/tinyModel';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { openModelPath } from '../../src/node/openModelPath';
import { tempDir } from '../model/helpers';
import { cli } from '../support/cliInProcess';
import { maxLogProbGap } from '../support/llamaLogProbs';

// llama.cpp and the CPU model on a 2-core CI machine shared with other test files: generous, not tight.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let llama: Llama;
let dir: { path: string; remove: () => Promise<void> };

interface Added {
  content: string;
  special: boolean;
}

/** A tiny Llama whose tokenizer adds `added` after its own tokens, on rows the model has for them (vocabPadding). */
async function writeFineTune(path: string, options: TinyModelOptions, added: Added[]): Promise<void> {
  const { files, tokenizer } = await tinyModel({ ...options, vocabPadding: added.length });
  const json = (name: string) => JSON.parse(new TextDecoder().decode(files.get(name))) as Record<string, unknown>;
  const tj = json('tokenizer.json');
  const tc = json('tokenizer_config.json');
  const decoder = tc.added_tokens_decoder as Record<string, unknown>;
  added.forEach((a, i) => {
    const id = tokenizer.size + i;
    const entry = { content: a.content, single_word: false, lstrip: false, rstrip: false, normalized: !a.special, special: a.special };
    (tj.added_tokens as unknown[]).push({ id, ...entry });
    decoder[String(id)] = entry;
  });
  files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(tj)));
  files.set('tokenizer_config.json', new TextEncoder().encode(JSON.stringify(tc)));
  mkdirSync(path, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(path, name), bytes);
}

const LLAMA: TinyModelOptions = { architecture: 'llama', seed: 5 };
const RECIPE = `merge_method: linear
base_model: base
models:
  - model: base
    parameters: {weight: 0.4}
  - model: chat
    parameters: {weight: 0.3}
  - model: tool
    parameters: {weight: 0.3}
tokenizer_source: union
dtype: float32
`;
const NEW_TOKENS = ['<tool_call>', '</tool_call>', '<think>', '<|tool|>'];
const TEXT = 'The quick brown fox<tool_call> jumps over</tool_call> the lazy dog.<think> A soup of models<|tool|> is the average of their weights.';

beforeAll(async () => {
  dir = await tempDir();
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const base = await tinyModel(LLAMA);
  mkdirSync(join(dir.path, 'base'));
  for (const [name, bytes] of base.files) writeFileSync(join(dir.path, 'base', name), bytes);
  await writeFineTune(join(dir.path, 'chat'), { ...LLAMA, deltaSeed: 77, deltaScale: 0.5 }, [
    { content: '<tool_call>', special: true },
    { content: '</tool_call>', special: true },
    { content: '<think>', special: false },
  ]);
  await writeFineTune(join(dir.path, 'tool'), { ...LLAMA, deltaSeed: 78, deltaScale: 0.5 }, [
    { content: '<|tool|>', special: true },
    { content: '<think>', special: false },
  ]);
  writeFileSync(join(dir.path, 'soup.yaml'), RECIPE);
});

afterAll(async () => {
  await llama?.dispose();
  await dir?.remove();
});

test('a union soup of models that add tokens, as GGUF: llama.cpp tokenizes the added tokens to the ids SoupLab wrote and scores as the runtime', async () => {
  const gguf = join(dir.path, 'soup.gguf');
  const folder = join(dir.path, 'soup');
  for (const out of [gguf, folder]) {
    const run = await cli(['merge', join(dir.path, 'soup.yaml'), '--out', out, ...(out === gguf ? ['--gguf-type', 'f32'] : []), '--backend', 'cpu']);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
  }

  // The ids SoupLab wrote: the merged folder's tokenizer.json, the union's new tokens after the base's.
  const written = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
  const idOf = new Map(written.added_tokens.map((a) => [a.content, a.id]));
  const soup = await openModelPath(folder);
  try {
    const baseSize = (await tinyModel(LLAMA)).tokenizer.size;
    expect(NEW_TOKENS.map((t) => idOf.get(t))).toEqual(NEW_TOKENS.map((_, i) => baseSize + i));
    expect(soup.config.vocabSize).toBe(baseSize + NEW_TOKENS.length);

    const model = await llama.loadModel({ modelPath: gguf });
    try {
      for (const t of NEW_TOKENS) expect(model.tokenize(t, true), t).toEqual([idOf.get(t)]);
      const ours = soup.tokenizer!.encode(TEXT, { addSpecialTokens: false });
      for (const t of NEW_TOKENS) expect(ours).toContain(idOf.get(t));
      expect(model.tokenize(TEXT, true)).toEqual(ours);

      // Log-probs over the text (after BOS) from llama.cpp and from SoupLab's CPU runtime on the merged folder.
      const ids = [soup.config.bosTokenId!, ...ours];
      const lm = await CpuCausalLM.load(soup.config, soup.weights);
      const [expected] = await lm.scoreTokens([Int32Array.from(ids)]);
      expect(await maxLogProbGap(model, ids, expected)).toBeLessThan(2e-4);
    } finally {
      await model.dispose();
    }
  } finally {
    await soup.close();
  }
});
