/**
 * tokenizer.ggml.* metadata from a Hugging Face tokenizer.json + tokenizer_config.json, as llama.cpp's
 * converter writes them for a byte-level BPE tokenizer (_set_vocab_gpt2 + gguf-py's SpecialVocab): the token
 * list padded to the model's vocab_size, token types, merges, the pre-tokenizer name, special token ids,
 * whether BOS/EOS are added, and the chat template.
 */
import { InputError } from '../../errors';
import { HfTokenizer } from '../tokenizer';
import type { ModelConfig } from '../types';
import type { GgufMetadata } from './encode';
import { PRE_TOKENIZER_BY_HASH, PRE_TOKENIZER_CHECK_TEXT } from './preTokenizerHashes';

type Json = Record<string, unknown>;

/** llama.cpp's token types (gguf-py TokenType). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
/** gguf-py's key for each special token type. */
const SPECIAL_KEY: Record<(typeof SPECIAL_TYPES)[number], string> = {
  bos: 'bos_token_id',
  eos: 'eos_token_id',
  unk: 'unknown_token_id',
  sep: 'seperator_token_id', // sic: llama.cpp's key is spelt so
  pad: 'padding_token_id',
  cls: 'cls_token_id',
  mask: 'mask_token_id',
};

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The converter's does_token_look_special: added tokens some models forget to mark special. */
function looksSpecial(t: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

function usesByteLevel(component: unknown): boolean {
  if (!isObject(component)) return false;
  if (component.type === 'ByteLevel') return true;
  const list = component.pretokenizers ?? component.decoders;
  return Array.isArray(list) && list.some(usesByteLevel);
}

/** The pre-tokenizer split of Llama 3's tokenizer.json (digits in threes) and of Qwen2's (digits one by one). */
export const LLAMA3_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Splits that llama.cpp implements under these names (llama-vocab.cpp). */
const PRE_TOKENIZER_BY_REGEX: Readonly<Record<string, string>> = { [LLAMA3_SPLIT_REGEX]: 'llama-bpe', [QWEN2_SPLIT_REGEX]: 'qwen2' };

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The name llama.cpp knows this pre-tokenizer by: found by the converter's hash of the check text's ids;
 * for a tokenizer llama.cpp has never seen, "gpt-2" when it is plain GPT-2 byte-level splitting (the regex
 * llama.cpp's "gpt-2" pre-tokenizer implements), else refused.
 */
async function preTokenizerName(tokenizer: HfTokenizer, json: Json, name: string): Promise<string> {
  const ids = tokenizer.encode(PRE_TOKENIZER_CHECK_TEXT);
  const hash = await sha256Hex(`[${ids.join(', ')}]`);
  const known = PRE_TOKENIZER_BY_HASH[hash];
  if (known !== undefined) return known;
  const pre = json.pre_tokenizer;
  if (isObject(pre) && pre.type === 'ByteLevel' && pre.use_regex !== false && pre.add_prefix_space !== true && json.normalizer === null) {
    return 'gpt-2';
  }
  // A new vocabulary on a known split: Split(regex, Isolated) then ByteLevel without its own regex.
  const steps = isObject(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? pre.pretokenizers : [];
  const [split, byteLevel] = steps;
  if (
    steps.length === 2 &&
    isObject(split) &&
    split.type === 'Split' &&
    split.behavior === 'Isolated' &&
    split.invert !== true &&
    isObject(split.pattern) &&
    isObject(byteLevel) &&
    byteLevel.type === 'ByteLevel' &&
    byteLevel.use_regex === false &&
    byteLevel.add_prefix_space !== true
  ) {
    const byRegex = PRE_TOKENIZER_BY_REGEX[String(split.pattern.Regex)];
    const normalizer = json.normalizer;
    const normalizerOk = normalizer === null || normalizer === undefined || (isObject(normalizer) && normalizer.type === 'NFC' && byRegex === 'qwen2');
    if (byRegex !== undefined && normalizerOk) return byRegex;
  }
  throw new InputError(
    `${name}/tokenizer.json: llama.cpp does not know this pre-tokenizer (check hash ${hash.slice(0, 16)}…), so a GGUF of it would tokenise differently; SoupLab exports tokenizers that llama.cpp's converter recognises`,
  );
}

export interface GgufVocabInput {
  name: string;
  config: ModelConfig;
  tokenizerJson: Json;
  tokenizerConfigJson: Json | null;
}

/** The tokenizer.* metadata entries, in the converter's order. */
export async function ggufTokenizerMetadata(input: GgufVocabInput): Promise<GgufMetadata> {
  const { name, config } = input;
  const json = input.tokenizerJson;
  const tc = input.tokenizerConfigJson ?? {};
  const model = json.model;
  if (!isObject(model) || model.type !== 'BPE' || !isObject(model.vocab)) {
    throw new InputError(`${name}/tokenizer.json: GGUF export supports BPE tokenizers, byte-level (Llama 3, Qwen, SmolLM…) or SentencePiece-style (Llama 2, Mistral 7B); this one is ${isObject(model) ? String(model.type) : 'not readable'}`);
  }
  const sentencePiece = model.byte_fallback === true;
  if (sentencePiece && !(isObject(json.decoder) && json.decoder.type === 'Sequence')) {
    // The converter's test for a Llama-style (SentencePiece-converted) tokenizer.json.
    throw new InputError(`${name}/tokenizer.json: a BPE tokenizer with byte fallback but not SentencePiece's decoder; llama.cpp's converter does not know it, so SoupLab does not export it`);
  }
  if (!sentencePiece && !(usesByteLevel(json.pre_tokenizer) || usesByteLevel(json.decoder))) {
    throw new InputError(`${name}/tokenizer.json: a BPE tokenizer that is neither byte-level (Llama 3, Qwen…) nor SentencePiece-style (Llama 2, Mistral 7B); llama.cpp's converter does not know it`);
  }

  // Tokens by id: the BPE vocabulary, then the added tokens; holes and the padding up to vocab_size are [PADn].
  const byId = new Map<number, string>();
  for (const [token, id] of Object.entries(model.vocab as Json)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new InputError(`${name}/tokenizer.json: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`);
    byId.set(id, token);
  }
  const baseIds = new Set(byId.keys());
  const added: AddedToken[] = [];
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (isObject(a) && typeof a.id === 'number' && typeof a.content === 'string') {
      added.push({ id: a.id, content: a.content, special: a.special === true });
      byId.set(a.id, a.content);
    }
  }
  const maxId = Math.max(...byId.keys());
  if (maxId >= config.vocabSize) {
    throw new InputError(`${name}: tokenizer.json has token id ${maxId}, but config.json's vocab_size is ${config.vocabSize}`);
  }
  const addedById = new Map(added.map((a) => [a.id, a]));
  const namedSpecialIds = new Set(namedSpecialTokens(tc).flatMap((c) => added.filter((a) => a.content === c).map((a) => a.id)));
  const tokens: string[] = [];
  const types = new Int32Array(config.vocabSize);
  for (let i = 0; i < config.vocabSize; i++) {
    const token = byId.get(i);
    if (token === undefined) {
      tokens.push(`[PAD${i}]`);
      types[i] = TOKEN_TYPE.UNUSED;
      continue;
    }
    tokens.push(token);
    const a = addedById.get(i);
    if (sentencePiece) types[i] = sentencePieceTokenType(token, i, baseIds.has(i), namedSpecialIds);
    else types[i] = a === undefined ? TOKEN_TYPE.NORMAL : a.special || looksSpecial(token) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }

  const merges = Array.isArray(model.merges) ? model.merges : [];
  const mergeStrings = merges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      // Pairs (transformers ≥ 4.45) may contain spaces; the converter writes a space as U+0120 + … (char + 256).
      const enc = (s: string) => s.replace(/ /g, String.fromCharCode(0x20 + 256));
      return `${enc(m[0])} ${enc(m[1])}`;
    }
    throw new InputError(`${name}/tokenizer.json: merge ${i} is ${JSON.stringify(m)}, neither "a b" nor ["a", "b"]`);
  });

  const tokenizer = new HfTokenizer(json, tc, name);
  const pre = sentencePiece ? 'default' : await preTokenizerName(tokenizer, json, name);

  // Special tokens: tokenizer_config.json names them (resolved among the added tokens), config.json fills gaps.
  const special = new Map<(typeof SPECIAL_TYPES)[number], number>();
  const addSpecial = new Map<'bos' | 'eos', boolean>();
  const content = (v: unknown): string | null => (typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : null);
  const pp = json.post_processor;
  for (const p of isObject(pp) ? (Array.isArray(pp.processors) ? pp.processors : [pp]) : []) {
    if (!isObject(p) || p.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length < 2) continue;
    const idOf = (item: unknown) => (isObject(item) && isObject(item.SpecialToken) ? item.SpecialToken.id : undefined);
    const first = idOf(p.single[0]);
    const last = idOf(p.single[p.single.length - 1]);
    if (first !== undefined) addSpecial.set('bos', first === content(tc.bos_token));
    if (last !== undefined) addSpecial.set('eos', last === content(tc.eos_token));
  }
  for (const typ of SPECIAL_TYPES) {
    const flag = tc[`add_${typ}_token`];
    if ((typ === 'bos' || typ === 'eos') && typeof flag === 'boolean') addSpecial.set(typ, flag);
    const c = content(tc[`${typ}_token`]);
    const id = c === null ? undefined : added.find((a) => a.content === c)?.id;
    if (id !== undefined) special.set(typ, id);
  }
  if (!special.has('bos') && config.bosTokenId !== null) special.set('bos', config.bosTokenId);
  if (!special.has('eos') && config.eosTokenId !== null) special.set('eos', config.eosTokenId);

  const metadata: GgufMetadata = sentencePiece
    ? [
        // The converter's _set_vocab_llama_hf: llama.cpp's SentencePiece tokenizer, no merges.
        ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
        ['tokenizer.ggml.pre', { type: 'string', value: pre }],
        ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
        ['tokenizer.ggml.scores', { type: 'f32[]', value: mergeRankScores(tokens, mergeStrings, (id) => baseIds.has(id)) }],
        ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
        ...(prependsSpace(json) ? [] : [['tokenizer.ggml.add_space_prefix', { type: 'bool', value: false }] as GgufMetadata[number]]),
      ]
    : [
        ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
        ['tokenizer.ggml.pre', { type: 'string', value: pre }],
        ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
        ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
        ['tokenizer.ggml.merges', { type: 'string[]', value: mergeStrings }],
      ];
  for (const [typ, id] of special) metadata.push([`tokenizer.ggml.${SPECIAL_KEY[typ]}`, { type: 'u32', value: id }]);
  for (const [typ, on] of addSpecial) metadata.push([`tokenizer.ggml.add_${typ}_token`, { type: 'bool', value: on }]);
  const template = tc.chat_template;
  if (typeof template === 'string') metadata.push(['tokenizer.chat_template', { type: 'string', value: template }]);
  else if (Array.isArray(template)) {
    // gguf-py: the "default" template as tokenizer.chat_template, the others by name, and their names listed.
    const names: string[] = [];
    for (const t of template) {
      if (!isObject(t) || typeof t.name !== 'string' || typeof t.template !== 'string') continue;
      if (t.name === 'default') metadata.push(['tokenizer.chat_template', { type: 'string', value: t.template }]);
      else {
        names.push(t.name);
        metadata.push([`tokenizer.chat_template.${t.name}`, { type: 'string', value: t.template }]);
      }
    }
    if (names.length > 0) metadata.push(['tokenizer.chat_templates', { type: 'string[]', value: names }]);
  }
  return metadata;
}

/** The tokens tokenizer_config.json names as special (transformers' all_special_tokens). */
function namedSpecialTokens(tc: Json): string[] {
  const content = (v: unknown): string | null => (typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : null);
  const named = SPECIAL_TYPES.map((t) => content(tc[`${t}_token`]));
  const extra = Array.isArray(tc.additional_special_tokens) ? tc.additional_special_tokens.map(content) : [];
  return [...named, ...extra].filter((c): c is string => c !== null);
}

/** gguf-py's LlamaHfVocab token types: bytes, the named special tokens as control, tokens added beyond the BPE vocabulary as user-defined. */
function sentencePieceTokenType(token: string, id: number, inBaseVocab: boolean, namedSpecialIds: ReadonlySet<number>): number {
  if (/^<0x[0-9A-Fa-f]{2}>$/.test(token)) return TOKEN_TYPE.BYTE;
  if (namedSpecialIds.has(id)) return TOKEN_TYPE.CONTROL;
  return inBaseVocab ? TOKEN_TYPE.NORMAL : TOKEN_TYPE.USER_DEFINED;
}

/**
 * Scores for llama.cpp's SentencePiece tokenizer, which merges the adjacent pair whose joined token scores
 * highest. The converter writes -1000 for every token (its LlamaHfVocab has no scores to read), and then
 * llama.cpp merges left to right and tokenises differently from tokenizer.json. Scoring each token by the rank
 * of the first merge that makes it (−1 for the first, −2 for the second…) makes "highest score first" the BPE
 * merge order, so llama.cpp's ids equal tokenizer.json's (the referee test checks it). Tokens no merge makes
 * score 0, as bytes and control pieces do in a SentencePiece model; tokens added beyond the vocabulary −1000,
 * as the converter writes them.
 */
function mergeRankScores(tokens: readonly string[], merges: readonly string[], inBaseVocab: (id: number) => boolean): Float32Array {
  const rankOf = new Map<string, number>();
  merges.forEach((m, rank) => {
    const space = m.indexOf(' ');
    const joined = m.slice(0, space) + m.slice(space + 1);
    if (!rankOf.has(joined)) rankOf.set(joined, rank);
  });
  return Float32Array.from(tokens, (t, id) => {
    if (!inBaseVocab(id)) return -1000;
    const rank = rankOf.get(t);
    return rank === undefined ? 0 : -(rank + 1);
  });
}

/** Whether the tokenizer puts ▁ before the text (llama.cpp's add_space_prefix, on unless said otherwise). */
function prependsSpace(json: Json): boolean {
  const normalizers = isObject(json.normalizer) ? (Array.isArray(json.normalizer.normalizers) ? json.normalizer.normalizers : [json.normalizer]) : [];
  if (normalizers.some((n) => isObject(n) && n.type === 'Prepend')) return true;
  const pre = json.pre_tokenizer;
  const steps = isObject(pre) ? (Array.isArray(pre.pretokenizers) ? pre.pretokenizers : [pre]) : [];
  return steps.some((p) => isObject(p) && p.type === 'Metaspace' && (p.prepend_scheme === undefined ? p.add_prefix_space !== false : p.prepend_scheme !== 'never'));
}
