/**
 * Tiny random models of each supported architecture, with a REAL byte-level BPE tokenizer: the test material
 * for the model runtime, the GGUF exporter and llama.cpp as the referee (and for benchmarks, at larger sizes).
 *
 *   tinyModel({ architecture: 'qwen3', dtype: 'BF16', seed: 7 })  →  Map<file name, bytes>
 *     config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json
 *
 * The tokenizer is trained here (byte-pair merges learned from a small fixed corpus, GPT-2 byte-to-unicode
 * alphabet, GPT-2 pre-tokenizer regex) and written as Hugging Face tokenizer.json, so that @huggingface/tokenizers
 * and llama.cpp read it as they read a real model's. Weights are seeded normal samples scaled by 1/√fan-in,
 * embeddings N(0, 0.25²) (tied ones are the output layer too), so activations and logits are O(1) and a bug in the forward pass moves log-probs visibly.
 * Everything is deterministic: the same options give the same bytes on every machine. No Node APIs: tests
 * write the files where they need them.
 */
import type { Architecture } from '../src/model/types';
import { encodeFromF32 } from '../src/formats/floatArrays';
import { MemoryTarget } from '../src/formats/memoryTarget';
import { SafetensorsWriter } from '../src/formats/writer';
import { seededGaussian } from '../src/util/random';
import { parseModelConfig } from '../src/model/config';
import { modelTensors, type ModelTensor } from '../src/model/weights';
import { LLAMA3_SPLIT_REGEX, QWEN2_SPLIT_REGEX } from '../src/model/gguf/vocab';

export type TinyDtype = 'F32' | 'F16' | 'BF16';

export interface TinyModelOptions {
  architecture: Architecture;
  /** Dtype of the matrices; norms follow it too, as in real checkpoints saved in one torch dtype. */
  dtype?: TinyDtype;
  seed?: number;
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Written to config.json as head_dim when it differs from hidden / heads (Qwen3 style). */
  headDim?: number;
  /** Byte-pair merges learned on top of the 256 byte tokens. */
  numMerges?: number;
  /** Extra rows of the embedding beyond the tokenizer (config vocab_size > tokenizer size, as Qwen pads). */
  vocabPadding?: number;
  tieWordEmbeddings?: boolean;
  /** Llama 3 rope_scaling (llama only by default). */
  ropeScaling?: boolean;
  /** max_position_embeddings (512 unless given). */
  maxPositionEmbeddings?: number;
  /** A fine-tune of the same base: the `seed` weights plus deltaScale (default 0.1) × noise of this seed, per tensor's scale. */
  deltaSeed?: number;
  deltaScale?: number;
  /** 'byte-level' (default: GPT-2 style BPE) or 'sentencepiece' (Llama 2 / Mistral 7B style: ▁ for spaces, byte fallback). */
  tokenizerKind?: TokenizerKind;
}

export type TokenizerKind = 'byte-level' | 'sentencepiece';

interface ArchDefaults {
  hfArchitecture: string;
  modelType: string;
  specials: { bos: string | null; eos: string; extra: string[] };
  addBos: boolean;
  chatTemplate: string;
  ropeTheta: number;
  eps: number;
  headDim?: number;
  tie: boolean;
  ropeScaling: boolean;
}

const LLAMA3_TEMPLATE =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
const MISTRAL_TEMPLATE =
  "{{- bos_token }}{%- for message in messages %}{%- if message['role'] == 'user' %}{{- '[INST] ' + message['content'] + ' [/INST]' }}{%- else %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}";
const CHATML_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const ARCH: Record<Architecture, ArchDefaults> = {
  llama: {
    hfArchitecture: 'LlamaForCausalLM',
    modelType: 'llama',
    specials: { bos: '<|begin_of_text|>', eos: '<|end_of_text|>', extra: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'] },
    addBos: true,
    chatTemplate: LLAMA3_TEMPLATE,
    ropeTheta: 500000,
    eps: 1e-5,
    tie: false,
    ropeScaling: true,
  },
  mistral: {
    hfArchitecture: 'MistralForCausalLM',
    modelType: 'mistral',
    specials: { bos: '<s>', eos: '</s>', extra: ['[INST]', '[/INST]'] },
    addBos: true,
    chatTemplate: MISTRAL_TEMPLATE,
    ropeTheta: 1000000,
    eps: 1e-5,
    tie: false,
    ropeScaling: false,
  },
  qwen2: {
    hfArchitecture: 'Qwen2ForCausalLM',
    modelType: 'qwen2',
    specials: { bos: null, eos: '<|endoftext|>', extra: ['<|im_start|>', '<|im_end|>'] },
    addBos: false,
    chatTemplate: CHATML_TEMPLATE,
    ropeTheta: 1000000,
    eps: 1e-6,
    tie: true,
    ropeScaling: false,
  },
  qwen3: {
    hfArchitecture: 'Qwen3ForCausalLM',
    modelType: 'qwen3',
    specials: { bos: null, eos: '<|endoftext|>', extra: ['<|im_start|>', '<|im_end|>'] },
    addBos: false,
    chatTemplate: CHATML_TEMPLATE,
    ropeTheta: 1000000,
    eps: 1e-6,
    headDim: 32,
    tie: true,
    ropeScaling: false,
  },
};

/** The text the merges are learned from: English prose, code, numbers and some non-ASCII. */
export const TINY_CORPUS = `The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights.
Souping fine-tunes of one base model often beats each of them: the experts of each category are mixed
with weights chosen on a benchmark. The model reads the question, thinks, and answers the question.
def main():
    for i in range(10):
        print("hello, world", i)
    return 0
In 2025 there were 1234 models and 56789 downloads; 3.14159 is close to pi, and 2.71828 to e.
Café, naïve, über, façade, smörgåsbord — déjà vu. 日本語のテキスト。 Привет, мир! 😀 ✓
She said: "It's what they'd done, and we'll see what you've got." I'm sure they're right.
the the the and and of of to to in in is is that that it it with with for for as as on on
`;

/** GPT-2's reversible byte → printable character map (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array<string>(256);
  for (const b of printable) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  }
  return map;
}

/** The GPT-2 pre-tokenizer regex, which HF's ByteLevel(use_regex) and llama.cpp's "gpt-2" pre-tokenizer use. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Byte-pair merges learned from `corpus`: the most frequent adjacent pair each round (ties: first in code-unit order). */
export function learnMerges(corpus: string, numMerges: number): [string, string][] {
  const byteChar = bytesToUnicode();
  return learnPairMerges(
    (corpus.match(GPT2_SPLIT) ?? []).map((piece) => [...new TextEncoder().encode(piece)].map((b) => byteChar[b])),
    numMerges,
  );
}

/** Merges learned over words given as symbol lists (BPE training: the most frequent adjacent pair each round). */
function learnPairMerges(pieces: string[][], numMerges: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const piece of pieces) {
    const key = piece.join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const words = [...counts].map(([w, c]) => ({ symbols: w.split('\u0000'), count: c }));
  const merges: [string, string][] = [];
  for (let round = 0; round < numMerges; round++) {
    const pairs = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + w.count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    for (const w of words) {
      const next: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(w.symbols[i]);
      }
      w.symbols = next;
    }
  }
  return merges;
}

export interface TinyTokenizer {
  /** tokenizer.json as an object. */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Tokens in id order (bytes, merged tokens, special tokens). */
  size: number;
  bosTokenId: number | null;
  eosTokenId: number;
}

/** Llama: Llama 3's split; Qwen: Qwen2's (with NFC, as Qwen's files have); Mistral: GPT-2's ByteLevel regex. */
function preTokenizer(architecture: Architecture): Record<string, unknown> {
  const split = (regex: string) => ({
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  });
  if (architecture === 'llama') return split(LLAMA3_SPLIT_REGEX);
  if (architecture === 'qwen2' || architecture === 'qwen3') return split(QWEN2_SPLIT_REGEX);
  return { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
}

/** A byte-level BPE tokenizer.json for `architecture`'s special tokens, pre-tokenizer and chat template. */
export function tinyTokenizer(architecture: Architecture, numMerges = 200): TinyTokenizer {
  const arch = ARCH[architecture];
  const byteChar = bytesToUnicode();
  const vocab: Record<string, number> = {};
  let size = 0;
  for (let b = 0; b < 256; b++) vocab[byteChar[b]] = size++;
  const merges = learnMerges(TINY_CORPUS, numMerges);
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = size++;
  const specials = [...(arch.specials.bos === null ? [] : [arch.specials.bos]), arch.specials.eos, ...arch.specials.extra];
  const added = specials.map((content) => ({ id: size++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const idOf = (t: string): number => (added.find((a) => a.content === t) as { id: number }).id;
  const bos = arch.specials.bos;
  const bosTokenId = bos === null ? null : idOf(bos);
  const eosTokenId = idOf(arch.specials.eos);
  const postProcessor =
    bos !== null && arch.addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { [bos]: { id: bos, ids: [bosTokenId], tokens: [bos] } },
        }
      : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: architecture === 'qwen2' || architecture === 'qwen3' ? { type: 'NFC' } : null,
    pre_tokenizer: preTokenizer(architecture),
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const a of added) addedTokensDecoder[String(a.id)] = { content: a.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const tokenizerConfig = {
    add_bos_token: arch.addBos,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: bos,
    eos_token: arch.specials.eos,
    chat_template: arch.chatTemplate,
    clean_up_tokenization_spaces: false,
    model_max_length: 512,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { tokenizerJson, tokenizerConfig, size, bosTokenId, eosTokenId };
}

/** SentencePiece's word boundary mark: a space, as Llama 2's and Mistral's tokenizers write it. */
const SPM_SPACE = '\u2581';

/**
 * A SentencePiece-style BPE tokenizer.json, as transformers converts Llama 2's and Mistral 7B's
 * tokenizer.model: <unk> <s> </s>, the 256 byte-fallback tokens <0x00>…<0xFF>, the corpus' Latin characters,
 * then pieces merged within ▁-words; spaces become ▁ with one prepended (normalizer), characters outside the
 * vocabulary (newlines, tabs, CJK, emoji…) fall back to their UTF-8 bytes.
 */
export function sentencePieceTokenizer(architecture: Architecture, numMerges = 200): TinyTokenizer {
  if (architecture !== 'llama' && architecture !== 'mistral') throw new Error(`SentencePiece-style tokenizers are for llama and mistral, not ${architecture}`);
  const vocab: Record<string, number> = {};
  let size = 0;
  for (const t of ['<unk>', '<s>', '</s>']) vocab[t] = size++;
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = size++;
  const inAlphabet = (c: string) => c === SPM_SPACE || ((c.codePointAt(0) as number) < 0x250 && !'\n\t\r'.includes(c));
  const normalized = SPM_SPACE + TINY_CORPUS.replace(/ /g, SPM_SPACE);
  const alphabet = [...new Set([...normalized].filter(inAlphabet))].sort();
  for (const c of alphabet) vocab[c] = size++;
  // Words start at each ▁; characters outside the alphabet break a word (they can only be bytes).
  const words: string[][] = [[]];
  for (const c of normalized) {
    if (c === SPM_SPACE || !inAlphabet(c)) words.push([]);
    if (inAlphabet(c)) words[words.length - 1].push(c);
  }
  const merges = learnPairMerges(words.filter((w) => w.length > 0), numMerges);
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = size++;
  const extra = architecture === 'mistral' ? ARCH.mistral.specials.extra : [];
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const added = [special('<unk>', 0), special('<s>', 1), special('</s>', 2), ...extra.map((c) => special(c, size++))];
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPM_SPACE }, { type: 'Replace', pattern: { String: ' ' }, content: SPM_SPACE }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: SPM_SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const a of added) addedTokensDecoder[String(a.id)] = { content: a.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    chat_template: MISTRAL_TEMPLATE,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: 512,
    tokenizer_class: 'LlamaTokenizerFast',
  };
  return { tokenizerJson, tokenizerConfig, size, bosTokenId: 1, eosTokenId: 2 };
}

/** Seeded values for one tensor; `delta` (a second stream) makes a fine-tune of the same base. */
function tensorValues(t: ModelTensor, base: () => number, delta: (() => number) | null, deltaScale: number): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const fanIn = t.shape[t.shape.length - 1];
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = base();
    const x = t.role === 'norm' ? 1 + 0.1 * g : t.role === 'bias' ? 0.1 * g : t.role === 'embedding' ? 0.25 * g : g / Math.sqrt(fanIn);
    const scale = t.role === 'norm' || t.role === 'bias' ? 0.1 : t.role === 'embedding' ? 0.25 : 1 / Math.sqrt(fanIn);
    v[i] = delta === null ? x : x + deltaScale * scale * delta();
  }
  return v;
}

export interface TinyModel {
  files: Map<string, Uint8Array>;
  config: Record<string, unknown>;
  tokenizer: TinyTokenizer;
}

/** The config.json and tokenizer of a generated model (what tinyModel writes beside its weights). */
export function tinyModelConfig(options: TinyModelOptions): { config: Record<string, unknown>; tokenizer: TinyTokenizer } {
  const arch = ARCH[options.architecture];
  const dtype = options.dtype ?? 'F32';
  const hiddenSize = options.hiddenSize ?? 64;
  const numHeads = options.numHeads ?? 4;
  const numKvHeads = options.numKvHeads ?? 2;
  const headDim = options.headDim ?? arch.headDim ?? hiddenSize / numHeads;
  const tie = options.tieWordEmbeddings ?? arch.tie;
  const tokenizer =
    options.tokenizerKind === 'sentencepiece' ? sentencePieceTokenizer(options.architecture, options.numMerges ?? 200) : tinyTokenizer(options.architecture, options.numMerges ?? 200);
  const vocabSize = tokenizer.size + (options.vocabPadding ?? 0);
  const useScaling = options.ropeScaling ?? arch.ropeScaling;
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype];
  const config: Record<string, unknown> = {
    architectures: [arch.hfArchitecture],
    model_type: arch.modelType,
    vocab_size: vocabSize,
    hidden_size: hiddenSize,
    intermediate_size: options.intermediateSize ?? 2 * hiddenSize,
    num_hidden_layers: options.numLayers ?? 2,
    num_attention_heads: numHeads,
    num_key_value_heads: numKvHeads,
    ...(headDim !== hiddenSize / numHeads || options.architecture === 'qwen3' ? { head_dim: headDim } : {}),
    hidden_act: 'silu',
    max_position_embeddings: options.maxPositionEmbeddings ?? 512,
    rms_norm_eps: arch.eps,
    rope_theta: arch.ropeTheta,
    rope_scaling: useScaling
      ? { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64 }
      : null,
    tie_word_embeddings: tie,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    torch_dtype: torchDtype,
    ...(options.architecture === 'llama' || options.architecture === 'qwen3' ? { attention_bias: false } : {}),
    ...(options.architecture === 'mistral' ? { sliding_window: null } : {}),
  };
  return { config, tokenizer };
}

/** Generates a tiny model: every file of a Hugging Face model folder, in memory. */
export async function tinyModel(options: TinyModelOptions): Promise<TinyModel> {
  const seed = options.seed ?? 1;
  const dtype = options.dtype ?? 'F32';
  const { config, tokenizer } = tinyModelConfig(options);
  const tensors = modelTensors(parseModelConfig(config, `tiny ${options.architecture}/config.json`));
  const base = seededGaussian(seed);
  const delta = options.deltaSeed === undefined ? null : seededGaussian(options.deltaSeed);
  const target = new MemoryTarget('tiny-model');
  const writer = await SafetensorsWriter.create(
    target,
    tensors.map((t) => ({ name: t.name, dtype, shape: t.shape })),
    { metadata: { format: 'pt' }, maxShardBytes: Infinity },
  );
  for (const t of tensors) await writer.append(t.name, encodeFromF32(dtype, tensorValues(t, base, delta, options.deltaScale ?? 0.1)));
  await writer.finish();

  const text = (o: unknown) => new TextEncoder().encode(`${JSON.stringify(o, null, 2)}\n`);
  const files = new Map<string, Uint8Array>([
    ['config.json', text(config)],
    ['model.safetensors', target.committed.get('model.safetensors') as Uint8Array],
    ['tokenizer.json', text(tokenizer.tokenizerJson)],
    ['tokenizer_config.json', text(tokenizer.tokenizerConfig)],
    ['generation_config.json', text({ bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId, do_sample: false })],
  ]);
  return { files, config, tokenizer };
}
