/**
 * Models that add chat and tool tokens to a shared base, for the vocabulary tests (vitest and e2e): a
 * WordLevel tokenizer.json each, F32 embeddings and LM heads of as many rows as the tokenizer has tokens.
 */
import { join } from 'node:path';
import { randomTensor, writeModel, type TestTensor } from './models';

export const H = 4;
const BASE_VOCAB = ['<unk>', 'a', 'b', 'c', 'd', 'e'];
const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** A WordLevel tokenizer.json: the plain vocabulary, then added tokens. */
export function tokenizerJson(added: { id: number; content: string }[], extraPlain: string[] = []): string {
  const vocab: Record<string, number> = {};
  [...BASE_VOCAB, ...extraPlain].forEach((t, i) => (vocab[t] = i));
  for (const a of added) vocab[a.content] = a.id;
  return JSON.stringify({
    version: '1.0',
    added_tokens: added.map((a) => special(a.id, a.content)),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  });
}

export const BASE_ADDED = [{ id: 6, content: '<s>' }, { id: 7, content: '</s>' }];
// chat adds <|im_start|> (8) and <|im_end|> (9); tool adds <tool_call> (8), </tool_call> (9) and <|im_start|> at id 10.
export const CHAT_ADDED = [...BASE_ADDED, { id: 8, content: '<|im_start|>' }, { id: 9, content: '<|im_end|>' }];
export const TOOL_ADDED = [...BASE_ADDED, { id: 8, content: '<tool_call>' }, { id: 9, content: '</tool_call>' }, { id: 10, content: '<|im_start|>' }];

export function model(rows: number, seed: number): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', 'F32', [rows, H], seed),
    randomTensor('model.layers.0.mlp.up_proj.weight', 'F32', [6, H], seed + 1),
    randomTensor('model.norm.weight', 'F32', [H], seed + 2),
    randomTensor('lm_head.weight', 'F32', [rows, H], seed + 3),
  ];
}

export const config = (vocab: number) => JSON.stringify({ architectures: ['LlamaForCausalLM'], vocab_size: vocab, num_hidden_layers: 1 });
export const BASE = model(8, 100);
export const CHAT = model(10, 200);
export const TOOL = model(11, 300);

/** Writes base/, chat/ and tool/ model folders under `dir`. */
export function writeVocabularyModels(dir: string): void {
  const chatTemplate = '{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}';
  writeModel(join(dir, 'base'), BASE, { layout: 'folder', extraFiles: { 'config.json': config(8), 'tokenizer.json': tokenizerJson(BASE_ADDED), 'tokenizer_config.json': JSON.stringify({ eos_token: '</s>' }) } });
  writeModel(join(dir, 'chat'), CHAT, {
    layout: 'folder',
    extraFiles: { 'config.json': config(10), 'tokenizer.json': tokenizerJson(CHAT_ADDED), 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', chat_template: chatTemplate }) },
  });
  writeModel(join(dir, 'tool'), TOOL, { layout: 'folder', extraFiles: { 'config.json': config(11), 'tokenizer.json': tokenizerJson(TOOL_ADDED), 'tokenizer_config.json': JSON.stringify({ eos_token: '</s>' }) } });
}
