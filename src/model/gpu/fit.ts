/**
 * Does a model fit this adapter? Weights (in their dtype, cut into binding-sized parts), the
 * activations of a batch, the KV cache and the logits chunk, against the adapter's maxBufferSize and
 * maxStorageBufferBindingSize (and a memory budget when the caller knows one: WebGPU does not say how
 * much memory a GPU has). Computed before anything is allocated, so a model that cannot run is
 * refused with the numbers instead of failing half-way through an upload.
 */
import { formatBytes } from '../../util/bytes';
import type { ModelConfig } from '../types';
import type { WeightDtype } from './modelShaders';
import { planWeightParts, residentBytes } from './residentWeights';

export interface FitLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface TensorInfo {
  name: string;
  shape: readonly number[];
  dtype: WeightDtype;
}

/** Buffers of a forward over `tokens` rows of activations with `cacheRows` KV rows in `cacheLayers` caches. */
export interface WorkspaceShape {
  tokens: number;
  cacheRows: number;
  cacheLayers: number;
  logitRows: number;
}

export interface ModelFit {
  fits: boolean;
  weightBytes: number;
  /** Activations + KV cache + logits chunk + per-token arrays, for batches of `batchTokens`. */
  workspaceBytes: number;
  kvBytes: number;
  totalBytes: number;
  batchTokens: number;
  logitRows: number;
  /** Tensors cut into parts because they exceed one binding. */
  splitTensors: { name: string; bytes: number; parts: number }[];
  limits: FitLimits & { memoryBudgetBytes: number | null };
  /** Why it does not fit (empty when it does). */
  problems: string[];
  /** One line for people: what is needed against what the adapter allows. */
  summary: string;
}

/** The largest logits chunk kept at once: rows of the vocabulary, at most this many bytes. */
export const LOGITS_CHUNK_BYTES = 64 * 1024 * 1024;

/** The largest single binding of a workspace: what bounds the batch size. */
function widestActivation(c: ModelConfig): number {
  return Math.max(c.hiddenSize, c.numHeads * c.headDim, c.intermediateSize);
}

export function workspaceBytes(c: ModelConfig, w: WorkspaceShape): { total: number; kv: number; largestBinding: number } {
  const f = 4;
  const kvDim = c.numKvHeads * c.headDim;
  const activations = w.tokens * f * (2 * c.hiddenSize + 2 * c.numHeads * c.headDim + 2 * c.intermediateSize);
  const kv = 2 * w.cacheLayers * w.cacheRows * kvDim * f;
  const logits = w.logitRows * c.vocabSize * f;
  // ids, (position, first own row, first shared row, shared rows), targets, results (2 words), the rope table, the readback copy.
  const perToken = w.cacheRows * (4 + 16 + 4 + 8 + 8) + w.cacheRows * (c.headDim / 2) * 8;
  const largestBinding = Math.max(w.tokens * f * widestActivation(c), w.cacheRows * kvDim * f, logits, w.cacheRows * (c.headDim / 2) * 8);
  return { total: activations + kv + logits + perToken, kv, largestBinding };
}

/** The most tokens a batch can hold under the binding limit (0 when not even one). */
export function maxBatchTokensFor(c: ModelConfig, limits: FitLimits): number {
  const binding = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const perToken = Math.max(4 * widestActivation(c), 4 * c.numKvHeads * c.headDim, 4 * (c.headDim / 2) * 8);
  return Math.floor(binding / perToken);
}

export function logitRowsFor(c: ModelConfig, limits: FitLimits, batchTokens: number): number {
  const binding = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize, LOGITS_CHUNK_BYTES);
  return Math.max(1, Math.min(batchTokens, Math.floor(binding / (4 * c.vocabSize))));
}

export function checkModelFit(
  c: ModelConfig,
  tensors: readonly TensorInfo[],
  limits: FitLimits,
  opts: { batchTokens: number; memoryBudgetBytes?: number | null; name?: string },
): ModelFit {
  const binding = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const problems: string[] = [];
  const splitTensors: ModelFit['splitTensors'] = [];
  let weightBytes = 0;
  for (const t of tensors) {
    const plan = planWeightParts(t.shape, t.dtype, binding);
    const bytes = residentBytes(t.shape, t.dtype, binding);
    weightBytes += bytes;
    if ('error' in plan) problems.push(`${t.name} (${t.dtype} ${JSON.stringify(t.shape)}): ${plan.error}`);
    else if (plan.length > 1) splitTensors.push({ name: t.name, bytes, parts: plan.length });
  }
  if (c.headDim > 256) problems.push(`head_dim ${c.headDim} is larger than the attention kernel's 256`);
  if (4 * c.vocabSize > binding) problems.push(`a row of logits (${c.vocabSize} × 4 bytes) is larger than one GPU binding of ${binding} bytes`);
  const maxTokens = maxBatchTokensFor(c, limits);
  if (maxTokens < 1) problems.push(`one token's activations (${4 * widestActivation(c)} bytes) exceed one GPU binding of ${binding} bytes`);
  const batchTokens = Math.max(1, Math.min(opts.batchTokens, maxTokens));
  const logitRows = logitRowsFor(c, limits, batchTokens);
  const ws = workspaceBytes(c, { tokens: batchTokens, cacheRows: batchTokens, cacheLayers: 1, logitRows });
  const totalBytes = weightBytes + ws.total;
  const budget = opts.memoryBudgetBytes ?? null;
  if (budget !== null && totalBytes > budget) {
    const dtypes = [...new Set(tensors.map((t) => t.dtype))].join('/');
    problems.push(
      `${opts.name ?? 'the model'} needs ${formatBytes(totalBytes)} of GPU memory (${formatBytes(weightBytes)} of ${dtypes} weights + ${formatBytes(ws.total)} for batches of ${batchTokens} tokens), the adapter offers ${formatBytes(budget)}`,
    );
  }
  const summary =
    `needs ${formatBytes(totalBytes)}: ${formatBytes(weightBytes)} of weights + ${formatBytes(ws.total)} of activations, KV cache (${formatBytes(ws.kv)}) and logits for batches of ${batchTokens} tokens` +
    `; adapter limits: maxBufferSize ${formatBytes(limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(limits.maxStorageBufferBindingSize)}` +
    (budget !== null ? `, budget ${formatBytes(budget)}` : '') +
    (splitTensors.length > 0 ? `; ${splitTensors.map((s) => `${s.name} in ${s.parts} parts`).join(', ')}` : '');
  return {
    fits: problems.length === 0,
    weightBytes,
    workspaceBytes: ws.total,
    kvBytes: ws.kv,
    totalBytes,
    batchTokens,
    logitRows,
    splitTensors,
    limits: { ...limits, memoryBudgetBytes: budget },
    problems,
    summary,
  };
}
