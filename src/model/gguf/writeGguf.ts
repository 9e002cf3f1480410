/**
 * A model (any WeightSource: a checkpoint, or a soup) → one GGUF file, as llama.cpp's convert_hf_to_gguf.py
 * writes it for Llama/Mistral (architecture "llama"), Qwen2 and Qwen3: hparams, gguf-py's tensor names,
 * the Q/K row permutation for "llama" (its RoPE pairs neighbours; Hugging Face pairs i with i + d/2),
 * rope_freqs for Llama 3 scaling, tokenizer.ggml.* and the chat template. Weights F32, F16, BF16 or Q8_0;
 * 1-D tensors and norms stay F32; a Q8_0 tensor whose rows do not divide into 32-value blocks falls back to
 * F16, as in the converter.
 *
 * Streaming and all or nothing: the header is computed from the shapes up front, then each tensor is read,
 * converted and appended in pieces of whole rows (the weights' streamF32 where they have it, so no tensor is
 * held whole); any failure (or cancel) aborts the target, which leaves no file behind.
 */
import { CancelledError, throwIfAborted } from '../../errors';
import { encodeFromF32 } from '../../formats/floatArrays';
import { numelOf } from '../../formats/dtype';
import type { OutputTarget } from '../../formats/writer';
import type { ByteSink } from '../../formats/types';
import { llama3RopeFactors } from '../cpu/ops';
import type { Architecture, ModelConfig, RopeScaling, WeightSource } from '../types';
import { checkWeights, EMBED_TOKENS, FINAL_NORM, layerTensorNames, LM_HEAD, modelTensors } from '../weights';
import { alignmentPadding, encodeGgufHeader, type GgmlType, type GgufMetadata, type GgufTensorInfo } from './encode';
import { Q8_0_BLOCK, q8_0ByteLength, quantizeQ8_0 } from './quantize';
import { ggufTokenizerMetadata } from './vocab';

export const GGUF_TYPES = ['f32', 'f16', 'bf16', 'q8_0'] as const;
export type GgufFileType = (typeof GGUF_TYPES)[number];

/** gguf-py's LlamaFileType for general.file_type. */
const FILE_TYPE: Record<GgufFileType, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };
const MATRIX_TYPE: Record<GgufFileType, GgmlType> = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' };
/** ggml's quantization version (GGML_QNT_VERSION), written by the converter. */
const QUANTIZATION_VERSION = 2;

const GGUF_ARCH: Record<Architecture, 'llama' | 'qwen2' | 'qwen3'> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };

export interface GgufModel {
  /** general.name, and the model's name in messages. */
  name: string;
  config: ModelConfig;
  /** config.json as parsed (head_dim presence decides key_length/value_length, as in the converter). */
  configJson: Record<string, unknown>;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfigJson: Record<string, unknown> | null;
  weights: WeightSource;
}

export interface GgufProgress {
  /** The Hugging Face tensor just written (null for generated ones: rope_freqs), or null before the first. */
  source: string | null;
  tensorsDone: number;
  tensorsTotal: number;
  bytesWritten: number;
  bytesTotal: number;
}

export interface GgufWriteOptions {
  type: GgufFileType;
  /** The file name inside the target (a single-file target ignores it). */
  fileName?: string;
  signal?: AbortSignal;
  onProgress?: (p: GgufProgress) => void;
  /** Values a tensor is written in at most (rounded to whole rows or heads); default 4 Mi (16 MB of f32). */
  pieceValues?: number;
}

interface PlannedTensor extends GgufTensorInfo {
  /** The Hugging Face tensor it comes from, or null for generated ones (rope_freqs). */
  source: string | null;
  /** Reorders rows for llama.cpp's RoPE: the head count to permute by, or 0. */
  permuteHeads: number;
}

/** gguf-py's tensor names for the Hugging Face names of these architectures. */
function ggufTensorName(hf: string): string {
  if (hf === EMBED_TOKENS) return 'token_embd.weight';
  if (hf === FINAL_NORM) return 'output_norm.weight';
  if (hf === LM_HEAD) return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  const table: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight',
    'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight',
    'self_attn.q_proj.bias': 'attn_q.bias',
    'self_attn.k_proj.bias': 'attn_k.bias',
    'self_attn.v_proj.bias': 'attn_v.bias',
    'self_attn.q_norm.weight': 'attn_q_norm.weight',
    'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'self_attn.o_proj.weight': 'attn_output.weight',
    'post_attention_layernorm.weight': 'ffn_norm.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight',
    'mlp.up_proj.weight': 'ffn_up.weight',
    'mlp.down_proj.weight': 'ffn_down.weight',
  };
  const suffix = m ? table[m[2]] : undefined;
  if (!m || suffix === undefined) throw new Error(`no GGUF name for tensor ${hf}`);
  return `blk.${m[1]}.${suffix}`;
}

function tensorBytes(type: GgmlType, numel: number): number {
  return type === 'Q8_0' ? q8_0ByteLength(numel) : numel * (type === 'F32' ? 4 : 2);
}

function planTensors(c: ModelConfig, fileType: GgufFileType): PlannedTensor[] {
  const permuted = GGUF_ARCH[c.architecture] === 'llama';
  const planned: PlannedTensor[] = [];
  if (c.ropeScaling !== null) {
    const shape = [c.headDim / 2];
    planned.push({ name: 'rope_freqs.weight', shape, type: 'F32', byteLength: tensorBytes('F32', shape[0]), source: null, permuteHeads: 0 });
  }
  for (const t of modelTensors(c)) {
    const name = ggufTensorName(t.name);
    let type: GgmlType = t.shape.length <= 1 || name.endsWith('_norm.weight') ? 'F32' : MATRIX_TYPE[fileType];
    if (type === 'Q8_0' && t.shape[t.shape.length - 1] % Q8_0_BLOCK !== 0) type = 'F16';
    let permuteHeads = 0;
    if (permuted) {
      const l = /^model\.layers\.(\d+)\./.exec(t.name);
      const names = l ? layerTensorNames(Number(l[1])) : undefined;
      if (names && (t.name === names.q || t.name === names.qBias)) permuteHeads = c.numHeads;
      if (names && (t.name === names.k || t.name === names.kBias)) permuteHeads = c.numKvHeads;
    }
    planned.push({ name, shape: t.shape, type, byteLength: tensorBytes(type, numelOf(t.shape)), source: t.name, permuteHeads });
  }
  return planned;
}

/**
 * LlamaModel.permute: rows of each head reordered from [first half, second half] to interleaved pairs
 * (reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2)). Works for weights (cols = in features) and biases (cols = 1).
 */
export function permuteForLlamaRope(values: Float32Array, rows: number, heads: number): Float32Array {
  const cols = values.length / rows;
  const half = rows / heads / 2;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const from = h * 2 * half + s * half + i;
        const to = h * 2 * half + i * 2 + s;
        out.set(values.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

function hparams(m: GgufModel, fileType: GgufFileType): GgufMetadata {
  const c = m.config;
  const arch = GGUF_ARCH[c.architecture];
  const u32 = (value: number) => ({ type: 'u32' as const, value });
  const f32 = (value: number) => ({ type: 'f32' as const, value });
  const meta: GgufMetadata = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: m.name }],
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.context_length`, u32(c.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
  ];
  if (m.configJson.head_dim !== undefined && m.configJson.head_dim !== null) {
    meta.push([`${arch}.attention.key_length`, u32(c.headDim)], [`${arch}.attention.value_length`, u32(c.headDim)]);
  }
  meta.push(['general.file_type', u32(FILE_TYPE[fileType])]);
  if (arch === 'llama') meta.push([`${arch}.vocab_size`, u32(c.vocabSize)], [`${arch}.rope.dimension_count`, u32(c.headDim)]);
  meta.push(['general.quantization_version', u32(QUANTIZATION_VERSION)]);
  return meta;
}

/** The bytes a tensor is stored as. */
function encodeTensor(type: GgmlType, values: Float32Array): Uint8Array {
  switch (type) {
    case 'F32':
      return encodeFromF32('F32', values);
    case 'F16':
      return encodeFromF32('F16', values);
    case 'BF16':
      return encodeFromF32('BF16', values);
    case 'Q8_0':
      return quantizeQ8_0(values);
  }
}

/** Values per piece a tensor is written in (16 MB of f32): what the writer holds of a tensor at once. */
const PIECE_VALUES = 4 << 20;

/**
 * A tensor's f32 values in pieces of whole rows, at most `maxValues` each (or one unit), ready to encode: Q8_0 blocks never
 * straddle rows, and a tensor permuted for llama's RoPE comes in whole heads, permuted (the permutation
 * stays inside a head). The source's pieces (streamF32, or readF32 whole) are cut and joined to fit.
 */
async function* tensorPieces(model: GgufModel, t: PlannedTensor, maxValues: number, signal: AbortSignal | undefined): AsyncGenerator<Float32Array> {
  const c = model.config;
  if (t.source === null) {
    yield llama3RopeFactors(c.headDim, c.ropeTheta, c.ropeScaling as RopeScaling);
    return;
  }
  const numel = numelOf(t.shape);
  // Rows as the permutation sees them (a 1-D bias: rows of one value); a piece holds whole units of rows.
  const cols = t.permuteHeads > 0 ? numel / t.shape[0] : (t.shape[t.shape.length - 1] ?? 1);
  const rowsPerHead = t.permuteHeads > 0 ? t.shape[0] / t.permuteHeads : 1;
  const unit = cols * rowsPerHead;
  const pieceValues = Math.min(numel, Math.max(1, Math.floor(maxValues / unit)) * unit);
  const finish = (piece: Float32Array) => (t.permuteHeads > 0 ? permuteForLlamaRope(piece, piece.length / cols, piece.length / unit) : piece);
  const source = model.weights.streamF32?.(t.source, signal) ?? readWhole(model.weights, t.source, signal);
  let piece = new Float32Array(pieceValues);
  let filled = 0;
  let left = numel;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(piece.length - filled, chunk.length - at);
      if (n <= 0) throw new Error(`${t.name}: the weights gave more than its ${numel} values`);
      piece.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === piece.length) {
        yield finish(piece);
        left -= filled;
        filled = 0;
        piece = new Float32Array(Math.min(pieceValues, left));
      }
    }
  }
  if (left !== 0) throw new Error(`${t.name}: the weights gave ${numel - left + filled} of its ${numel} values`);
}

async function* readWhole(weights: WeightSource, name: string, signal: AbortSignal | undefined): AsyncGenerator<Float32Array> {
  yield await weights.readF32(name, signal);
}

export interface GgufWriteResult {
  bytes: number;
  tensors: number;
  /** Tensors written F16 instead of Q8_0 because their rows do not split into 32-value blocks. */
  q8Fallbacks: string[];
  /** The bytes before the tensor data (metadata and tensor infos): what a re-read of the file must find. */
  header: Uint8Array;
}

/** Writes `model` as one GGUF file to `target`; nothing is left at the target unless it all succeeds. */
export async function writeGguf(model: GgufModel, target: OutputTarget, options: GgufWriteOptions): Promise<GgufWriteResult> {
  const c = model.config;
  let sink: ByteSink | undefined;
  try {
    checkWeights(c, model.weights, model.name);
    const tensors = planTensors(c, options.type);
    const metadata = [...hparams(model, options.type), ...(await ggufTokenizerMetadata({ name: model.name, config: c, tokenizerJson: model.tokenizerJson, tokenizerConfigJson: model.tokenizerConfigJson }))];
    const header = encodeGgufHeader(metadata, tensors);
    const bytesTotal = header.length + tensors.reduce((s, t) => s + t.byteLength + alignmentPadding(t.byteLength), 0);
    throwIfAborted(options.signal);

    sink = await target.createFile(options.fileName ?? 'model.gguf');
    await sink.write(header);
    let bytesWritten = header.length;
    let done = 0;
    options.onProgress?.({ source: null, tensorsDone: 0, tensorsTotal: tensors.length, bytesWritten, bytesTotal });
    for (const t of tensors) {
      throwIfAborted(options.signal);
      let written = 0;
      for await (const values of tensorPieces(model, t, options.pieceValues ?? PIECE_VALUES, options.signal)) {
        const bytes = encodeTensor(t.type, values);
        await sink.write(bytes);
        written += bytes.length;
      }
      if (written !== t.byteLength) throw new Error(`${t.name}: encoded ${written} bytes, planned ${t.byteLength}`);
      const pad = alignmentPadding(written);
      if (pad > 0) await sink.write(new Uint8Array(pad));
      bytesWritten += written + pad;
      options.onProgress?.({ source: t.source, tensorsDone: ++done, tensorsTotal: tensors.length, bytesWritten, bytesTotal });
    }
    throwIfAborted(options.signal);
    const s = sink;
    sink = undefined;
    await s.close();
    await target.commit();
    return {
      bytes: bytesWritten,
      tensors: tensors.length,
      q8Fallbacks: options.type === 'q8_0' ? tensors.filter((t) => t.type === 'F16').map((t) => t.name) : [],
      header,
    };
  } catch (e) {
    await sink?.abort().catch(() => undefined);
    await target.abort().catch(() => undefined);
    if (options.signal?.aborted && !(e instanceof CancelledError)) throw new CancelledError();
    throw e;
  }
}
