/**
 * A soup written straight into one GGUF file (llama.cpp, Ollama, LM Studio), for `souplab merge --out x.gguf`
 * and the studio's GGUF export alike (both through runRecipe).
 *
 * No temporary safetensors file: the GGUF writer needs every tensor's name, shape and type before the first
 * byte (its header), and those follow from the plan and the base model's config.json; it then takes one
 * tensor at a time, chunk by chunk, which soupWeightSource.streamF32 computes as runMerge would (same plan,
 * same backend jobs, the soup's own dtype) and hands over as f32. So the GGUF holds bit for bit what
 * converting the merged safetensors would give, without writing the soup twice. Memory: the backend's jobs
 * in flight and one piece of about 16 MB being encoded (writeGguf), whatever the model's size.
 *
 * The config and tokenizer are the reference model's, as a folder export carries them: config.json for the
 * architecture and hparams, tokenizer.json for tokenizer.ggml.*, tokenizer_config.json for the chat template.
 */
import { InputError } from '../errors';
import type { ByteSource } from '../formats/types';
import type { OutputTarget } from '../formats/writer';
import { writeGguf, type GgufFileType } from '../model/gguf/writeGguf';
import { ggufTokenizerMetadata } from '../model/gguf/vocab';
import { readModelFiles, type ModelFiles } from '../model/load';
import type { SoupBackend } from './kernel';
import type { MergePlan, TensorStep } from './plan';
import { OutputVerificationError, type MergeProgress, type MergeResult } from './runMerge';
import { soupWeightSource } from './soupWeights';

/** The reference model's files a GGUF is made of besides the weights, read and checked. */
export interface GgufModelFiles {
  files: ModelFiles & { tokenizerJson: Record<string, unknown> };
  /** One-line notes for the person exporting (e.g. no chat template). */
  notes: string[];
}

/** What the GGUF is made of besides the weights, and the soup's own type (the default). */
export interface GgufSoupInputs extends GgufModelFiles {
  /** The soup's own type, the default of a GGUF export: f32, bf16 or f16. */
  soupType: GgufFileType;
}

/** The files a GGUF export reads beside the reference model's weights. */
const NEEDED = ['config.json', 'tokenizer.json'] as const;

/**
 * The reference model's config.json (of an architecture the runtime knows) and a tokenizer.json llama.cpp
 * can read; every refusal is one line naming the model and what is missing or wrong. The studio calls it
 * as soon as GGUF is chosen (once per model: the tokenizer of a real model takes a moment to check).
 */
export async function ggufModelFiles(ref: MergePlan['reference']): Promise<GgufModelFiles> {
  const missing = NEEDED.filter((f) => !ref.checkpoint.extraFiles.has(f));
  if (missing.length > 0) {
    throw new InputError(
      `${ref.label}: no ${missing.join(' or ')} beside the weights; a GGUF file needs the base model's config.json and tokenizer.json (add the checkpoint's whole folder, not only its .safetensors)`,
    );
  }
  const files = await readModelFiles(ref.label, ref.checkpoint.extraFiles);
  const tokenizerJson = files.tokenizerJson as Record<string, unknown>;
  await ggufTokenizerMetadata({ name: ref.label, config: files.config, tokenizerJson, tokenizerConfigJson: files.tokenizerConfigJson });
  const notes: string[] = [];
  if (files.tokenizerConfigJson === null) notes.push(`${ref.label} has no tokenizer_config.json: the GGUF gets no chat template`);
  return { files: { ...files, tokenizerJson }, notes };
}

/**
 * Checks, before any merging, that the soup can become a GGUF: its reference model's files (ggufModelFiles,
 * or those already read) and no F64 tensor.
 */
export async function ggufSoupInputs(plan: MergePlan, modelFiles?: GgufModelFiles): Promise<GgufSoupInputs> {
  const model = modelFiles ?? (await ggufModelFiles(plan.reference));
  const f64 = plan.steps.find((s) => stepDtype(s) === 'F64');
  if (f64) throw new InputError(`tensor ${f64.name} would be F64, which GGUF does not hold; set the recipe's dtype (float32, bfloat16 or float16)`);
  return { ...model, soupType: ggufSoupType(plan) };
}

const stepDtype = (s: TensorStep) => (s.kind === 'copy' ? s.dtype : s.outDtype);

/**
 * The soup's own float type as a GGUF type, from its merged matrices (norms stay F32 in a GGUF whatever the
 * type, so F32 norms beside BF16 matrices still make a bf16 soup): f32 or bf16 when all are that, else f16.
 */
export function ggufSoupType(plan: MergePlan): GgufFileType {
  const outDtypes = new Set(plan.steps.flatMap((s) => (s.kind !== 'copy' && s.shape.length >= 2 ? [s.outDtype] : [])));
  if (outDtypes.size === 1 && outDtypes.has('F32')) return 'f32';
  if (outDtypes.size === 1 && outDtypes.has('BF16')) return 'bf16';
  return 'f16';
}

export interface GgufOutput {
  /** The file's name inside the target (a single-file target ignores it). */
  fileName: string;
  /** general.name: what llama.cpp, Ollama and LM Studio call the model. */
  name: string;
  /** Weight type; default the soup's own (GgufSoupInputs.soupType). */
  type?: GgufFileType;
}

export interface GgufSoupResult extends MergeResult {
  type: GgufFileType;
  /** Tensors kept F16 in a Q8_0 file (rows not divisible into 32-value blocks). */
  q8Fallbacks: string[];
}

export interface WriteSoupGgufOptions {
  backend: SoupBackend;
  target: OutputTarget;
  output: GgufOutput;
  /** Opens the written file again to check its header and size; without it the result says not verified. */
  readBack?: (fileName: string) => Promise<ByteSource>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
}

/** Computes the soup tensor by tensor and streams it into one GGUF file; all or nothing (writeGguf aborts the target). */
export async function writeSoupGguf(plan: MergePlan, inputs: GgufSoupInputs, opts: WriteSoupGgufOptions): Promise<GgufSoupResult> {
  const started = performance.now();
  const type = opts.output.type ?? inputs.soupType;
  // Progress in input bytes, as a safetensors merge reports it: each tensor's inputs count once it is written.
  const inputBytes = new Map(plan.steps.map((s) => [s.name, s.kind === 'copy' ? s.source.info.byteLength : s.inputs.reduce((n, t) => n + t.info.byteLength, 0)]));
  let bytesDone = 0;
  const written = await writeGguf(
    { ...inputs.files, name: opts.output.name, weights: soupWeightSource(plan, opts.backend) },
    opts.target,
    {
      type,
      fileName: opts.output.fileName,
      signal: opts.signal,
      onProgress:
        opts.onProgress &&
        ((p) => {
          bytesDone += p.source === null ? 0 : (inputBytes.get(p.source) ?? 0);
          const elapsedSeconds = (performance.now() - started) / 1000;
          opts.onProgress?.({
            tensorsDone: p.tensorsDone,
            tensorsTotal: p.tensorsTotal,
            bytesDone,
            bytesTotal: plan.inputBytes,
            outputBytesDone: p.bytesWritten,
            elapsedSeconds,
            bytesPerSecond: elapsedSeconds > 0 ? bytesDone / elapsedSeconds : 0,
            etaSeconds: bytesDone > 0 ? (elapsedSeconds * (plan.inputBytes - bytesDone)) / bytesDone : undefined,
            tensor: p.source ?? '',
          });
        }),
    },
  );
  let verified = false;
  if (opts.readBack) {
    await verifyGguf(opts.output.fileName, written.header, written.bytes, opts.readBack);
    verified = true;
  }
  return {
    files: [opts.output.fileName],
    tensors: written.tensors,
    bytesRead: plan.inputBytes,
    bytesWritten: written.bytes,
    seconds: (performance.now() - started) / 1000,
    verified,
    type,
    q8Fallbacks: written.q8Fallbacks,
  };
}

/** Re-reads the committed file: its size and its header (metadata, tensor infos) must be what was planned. */
async function verifyGguf(fileName: string, header: Uint8Array, size: number, readBack: (fileName: string) => Promise<ByteSource>): Promise<void> {
  let source: ByteSource;
  try {
    source = await readBack(fileName);
  } catch (e) {
    throw new OutputVerificationError(
      `${fileName}: the output was replaced by another process before it could be checked (${e instanceof Error ? e.message : String(e)}); is another merge writing to the same place?`,
    );
  }
  try {
    if (source.size !== size) throw new OutputVerificationError(`${fileName}: ${source.size} bytes on disk, ${size} written`);
    const read = await source.read(0, header.length);
    if (read.some((b, i) => b !== header[i])) throw new OutputVerificationError(`${fileName}: the GGUF header on disk is not the one written`);
  } finally {
    await (source as ByteSource & { close?: () => Promise<void> }).close?.().catch(() => undefined);
  }
}

/** GGUF bytes per value of a matrix in each type (Q8_0: blocks of 32 values in 34 bytes). */
const BYTES_PER_VALUE: Record<GgufFileType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 };

/**
 * About how large the GGUF of this soup will be, before it is written (for the storage quota check and
 * the studio's estimate): matrices in `type`, 1-D tensors and norms F32, plus the tokenizer's size.
 */
export function estimateGgufBytes(plan: MergePlan, type: GgufFileType): number {
  let bytes = 0;
  for (const s of plan.steps) {
    const numel = s.shape.reduce((a, b) => a * b, 1);
    bytes += numel * (s.shape.length >= 2 && !s.name.endsWith('norm.weight') ? BYTES_PER_VALUE[type] : 4);
  }
  return Math.ceil(bytes) + (plan.reference.checkpoint.extraFiles.get('tokenizer.json')?.size ?? 0);
}
