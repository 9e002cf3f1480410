/**
 * Two tiny fine-tunes of one base whose tokenizers differ, for the tests of evaluation and search over
 * differing vocabularies: each adds its own special token at the same id (its embedding and LM head one
 * row longer, the row seeded), so that the shapes agree and only the tokenizers say the rows mean other tokens.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomTensor, readSafetensors, safetensorsBytes } from '../merge/models';
import { writeTinyModel } from '../eval/helpers';

/** A tiny fine-tune of the shared base with one more special token, its rows seeded. */
export async function writeModelAdding(folder: string, deltaSeed: number, token: string): Promise<void> {
  await writeTinyModel(folder, { architecture: 'llama', seed: 12, deltaSeed, deltaScale: 0.3, dtype: 'F32', hiddenSize: 32, intermediateSize: 64 });
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { vocab_size: number };
  const tokenizer = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as { added_tokens: Record<string, unknown>[] };
  const id = config.vocab_size;
  tokenizer.added_tokens.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  config.vocab_size = id + 1;
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
  const { tensors } = readSafetensors(readFileSync(join(folder, 'model.safetensors')));
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
    const t = tensors.get(name)!;
    const row = randomTensor(name, 'F32', [1, t.shape[1]], deltaSeed * 7 + name.length);
    const data = new Uint8Array(t.data.length + row.data.length);
    data.set(t.data);
    data.set(row.data, t.data.length);
    tensors.set(name, { ...t, shape: [t.shape[0] + 1, t.shape[1]], data });
  }
  writeFileSync(join(folder, 'model.safetensors'), safetensorsBytes([...tensors.values()], { format: 'pt' }));
}

/** Writes chat/ (adds <|chat|>) and tool/ (adds <|tool|>) under `dir`. */
export async function writeVocabularyTinyModels(dir: string): Promise<void> {
  await writeModelAdding(join(dir, 'chat'), 41, '<|chat|>');
  await writeModelAdding(join(dir, 'tool'), 42, '<|tool|>');
}

/** A perplexity task (JSONL) with both added tokens, so that each model's own row and the other's (aligned) are read. */
export const VOCABULARY_TEXTS =
  ['<|chat|> The quick brown fox <|tool|> jumps over the lazy dog.', 'A soup of models <|tool|> is the average <|chat|> of their weights.'].map((text) => JSON.stringify({ text })).join('\n') + '\n';
