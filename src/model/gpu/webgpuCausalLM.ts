/**
 * The forward pass on WebGPU (shaders/model/*.wgsl): a CausalLM whose weights stay resident on the GPU.
 *
 * Scoring packs whole sequences one after another into a batch (no padding): token g of the batch
 * sits at KV-cache row g and attends to the rows of its own sequence up to itself. Per-token arrays
 * (ids, (position, first attended row), next-token targets, results) are indexed by cache row. A
 * batch is one command buffer: embedding, every layer, the final norm and the LM head in chunks of
 * rows, each chunk reduced at once to log p(next token) and the argmax, so the logits never leave the
 * GPU; only two words per token are read back. Generation keeps one KV cache per layer, prefills the
 * prompt (in chunks when it is longer than a batch) and appends one row per new token; the argmax of a
 * row is copied on the GPU into the next row's id, so several tokens run per submit and only the new
 * ids are read back between submits (to stop at eos and honour cancel).
 */
import { checkTokenIds } from '../tokenIds';
import { CancelledError, InputError, SoupLabError, throwIfAborted } from '../../errors';
import { ropeInvFreq } from '../cpu/ops';
import type { CausalLM, ModelConfig, ScoreOptions, WeightSource } from '../types';
import { checkWeights, EMBED_TOKENS, FINAL_NORM, LM_HEAD, layerTensorNames, modelTensors } from '../weights';
import { formatBytes } from '../../util/bytes';
import { describeAdapter } from '../../gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../gpu/device';
import { DeviceLostError, GPUExecutionError } from '../../gpu/errors';
import { PipelineCache } from '../../gpu/pipelineCache';
import { checkModelFit, logitRowsFor, maxBatchTokensFor, type FitLimits, type ModelFit, type TensorInfo, type WorkspaceShape } from './fit';
import { ForwardRecorder, type BoundWeight } from './forwardRecorder';
import { deviceKernelFeatures, type KernelFeatures, type WeightDtype } from './modelShaders';
import { allocateWeight, writeWeight, writeWeightBytes, type ResidentWeight, type WeightPart } from './residentWeights';

/** The model does not fit the adapter: `fit` has the numbers. */
export class ModelDoesNotFitError extends SoupLabError {
  override name = 'ModelDoesNotFitError';
  constructor(
    message: string,
    readonly fit: ModelFit,
  ) {
    super(message);
  }
}

export interface WebGpuCausalLMOptions {
  /** The device to use (share the soup backend's to soup straight into the weights); else one is opened on `adapter`. */
  device?: SoupDevice;
  adapter?: GPUAdapter;
  /** Tokens per scoring batch (default 512, less where the adapter's binding limit requires). */
  batchTokens?: number;
  /** Refuse models whose estimated GPU memory exceeds this many bytes (WebGPU does not report a GPU's memory). */
  memoryBudgetBytes?: number;
  signal?: AbortSignal;
  /** Upload progress, in tensors. */
  onProgress?: (done: number, total: number) => void;
  /** The model's name in messages. */
  name?: string;
  /** Cut tensors and size batches as if one binding held at most this many bytes (default: the device's limits). */
  maxBindingBytes?: number;
  /**
   * Force the optional kernel features on or off (default: used when the device has them). Forcing one on
   * that the device lacks is refused; tests force each variant the adapter can run.
   */
  kernels?: Partial<KernelFeatures>;
  /** Compute a context that consecutive sequences of a batch share once (default true). */
  shareContext?: boolean;
}

const NO_TARGET = 0xffffffff;
/** Per cache row: (position, first own row, first shared row, shared rows), as attention.wgsl reads it. */
const META_WORDS = 4;

/** A sequence's place in a scoring batch: its own rows from `start`; its first `shared` tokens are the anchor's rows. */
interface Placed {
  index: number;
  start: number;
  shared: number;
  anchor: Placed | null;
}

/**
 * How many leading tokens of `s` can reuse the rows of `anchor` (an earlier sequence of the batch with
 * all its rows: the first choice of a multiple-choice item): one less than their common prefix, so that
 * the last shared token's row, whose next token differs, is computed again as `s`'s own. At least one
 * row stays `s`'s own.
 */
export function sharedRows(anchor: Int32Array, s: Int32Array): number {
  let common = 0;
  const n = Math.min(anchor.length, s.length);
  while (common < n && anchor[common] === s[common]) common++;
  return Math.max(0, Math.min(common - 1, s.length - 1));
}
/** Generation steps per submit between reads of the new ids (eos and cancel are checked between). */
const STEPS_PER_SUBMIT = 8;
/**
 * Decoder layers per submit when scoring: a cancel is seen between submits, so on a slow adapter (a
 * software one, a laptop's GPU with a 7 B model) it does not wait for a whole batch's forward pass. One
 * submit stays queued behind the one running, so a fast GPU never waits for the CPU between them.
 */
export const LAYERS_PER_SUBMIT = 4;

interface Workspace {
  shape: WorkspaceShape;
  h: GPUBuffer;
  x: GPUBuffer;
  q: GPUBuffer;
  attn: GPUBuffer;
  gate: GPUBuffer;
  up: GPUBuffer;
  k: GPUBuffer[];
  v: GPUBuffer[];
  logits: GPUBuffer;
  ids: GPUBuffer;
  meta: GPUBuffer;
  targets: GPUBuffer;
  results: GPUBuffer;
}

/** The tensors of `config` (checked against the source: all there, right shapes) with the source's dtypes. */
function tensorInfos(config: ModelConfig, source: WeightSource, name: string): TensorInfo[] {
  checkWeights(config, source, name);
  return modelTensors(config).map((t) => ({ name: t.name, shape: t.shape, dtype: source.dtype(t.name) }));
}

/** One pipeline cache per device: compiling the kernels is the slow part of loading, models on a device share them. */
const PIPELINES = new WeakMap<GPUDevice, PipelineCache>();
function pipelinesFor(device: GPUDevice): PipelineCache {
  let cache = PIPELINES.get(device);
  if (!cache) PIPELINES.set(device, (cache = new PipelineCache(device)));
  return cache;
}

function limitsOf(d: GPUDevice | GPUAdapter): FitLimits {
  return { maxBufferSize: d.limits.maxBufferSize, maxStorageBufferBindingSize: d.limits.maxStorageBufferBindingSize };
}

function capLimits(l: FitLimits, maxBindingBytes: number | undefined): FitLimits {
  if (maxBindingBytes === undefined) return l;
  return { maxBufferSize: Math.min(l.maxBufferSize, maxBindingBytes), maxStorageBufferBindingSize: Math.min(l.maxStorageBufferBindingSize, maxBindingBytes) };
}

/** Whether `config` with `source`'s weights fits `adapter` (before opening a device or uploading anything). */
export function checkFitOnAdapter(config: ModelConfig, source: WeightSource, adapter: GPUAdapter, opts: { batchTokens?: number; memoryBudgetBytes?: number; name?: string } = {}): ModelFit {
  return checkModelFit(config, tensorInfos(config, source, opts.name ?? 'model'), limitsOf(adapter), { batchTokens: opts.batchTokens ?? 512, memoryBudgetBytes: opts.memoryBudgetBytes, name: opts.name });
}

/** The kernel features to use: what the device has, unless forced; forcing on a missing one is refused. */
export function chooseKernelFeatures(has: KernelFeatures, forced: Partial<KernelFeatures>): KernelFeatures {
  const FEATURE: Record<keyof KernelFeatures, string> = { f16: 'shader-f16', subgroups: 'subgroups' };
  for (const key of ['f16', 'subgroups'] as const) {
    if (forced[key] === true && !has[key]) throw new GPUExecutionError(`the GPU device does not offer the WebGPU feature ${FEATURE[key]}, which was asked for`);
  }
  // The f16-tile matmul is used only when asked for: it has been parse-checked but never run on hardware
  // that offers shader-f16 (SwiftShader lacks it), and BF16 weights can leave f16's range. Until it is
  // measured against the referee tolerance on a real GPU, the default is the f32 path everywhere.
  return { f16: forced.f16 ?? false, subgroups: forced.subgroups ?? has.subgroups };
}

export class WebGpuCausalLM implements CausalLM {
  readonly backend = 'webgpu' as const;
  readonly description: string;
  private readonly pipelines: PipelineCache;
  private readonly weights = new Map<string, ResidentWeight>();
  private readonly invFreq: Float32Array;
  private readonly batchTokens: number;
  private readonly maxTokens: number;
  private ws: Workspace | null = null;
  private rope: { buffer: GPUBuffer; positions: number } | null = null;
  private disposed = false;
  /** Rows (token positions) the forward has computed for scoring so far: a shared context counts once. */
  rowsScored = 0;
  /** Serialises calls: they share the workspace. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly config: ModelConfig,
    private readonly ctx: SoupDevice,
    private readonly ownsDevice: boolean,
    readonly fit: ModelFit,
    private readonly limits: FitLimits,
    /** The optional features the kernels use. */
    readonly kernelFeatures: KernelFeatures,
    private readonly shareContext: boolean,
  ) {
    this.pipelines = pipelinesFor(ctx.device);
    this.invFreq = ropeInvFreq(config.headDim, config.ropeTheta, config.ropeScaling);
    this.batchTokens = fit.batchTokens;
    this.maxTokens = maxBatchTokensFor(config, limits);
    const used = [kernelFeatures.f16 ? 'f16 matmuls' : '', kernelFeatures.subgroups ? 'subgroup reductions' : ''].filter(Boolean);
    this.description = `WebGPU on ${describeAdapter(ctx.adapter).name}${used.length ? ` (${used.join(', ')})` : ''}`;
  }

  /** Checks the fit, opens the device (unless given), uploads every weight. */
  static async create(config: ModelConfig, source: WeightSource, opts: WebGpuCausalLMOptions = {}): Promise<WebGpuCausalLM> {
    const tensors = tensorInfos(config, source, opts.name ?? 'model');
    if (!opts.device && !opts.adapter) throw new GPUExecutionError('WebGpuCausalLM needs a GPU adapter or device');
    const limits = capLimits(opts.device ? limitsOf(opts.device.device) : limitsOf(opts.adapter!), opts.maxBindingBytes);
    const fit = checkModelFit(config, tensors, limits, { batchTokens: opts.batchTokens ?? 512, memoryBudgetBytes: opts.memoryBudgetBytes, name: opts.name });
    if (!fit.fits) throw new ModelDoesNotFitError(`${opts.name ?? 'the model'} does not fit this GPU: ${fit.problems.join('; ')} (${fit.summary})`, fit);
    const ctx = opts.device ?? (await createSoupDevice(opts.adapter!, 'souplab model'));
    let features: KernelFeatures;
    try {
      features = chooseKernelFeatures(deviceKernelFeatures(ctx.device), opts.kernels ?? {});
    } catch (e) {
      if (!opts.device) ctx.destroy();
      throw e;
    }
    const model = new WebGpuCausalLM(config, ctx, !opts.device, fit, limits, features, opts.shareContext ?? true);
    try {
      await model.compile(new Set(tensors.map((t) => t.dtype)));
      model.allocate(tensors);
      await model.upload(source, opts);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** The device the weights live on (the soup backend must use the same one to write into them). */
  get gpuDevice(): GPUDevice {
    return this.ctx.device;
  }

  /** A resident tensor held in one buffer (throws for a tensor cut into parts: see weightParts). */
  weightBuffer(name: string): { buffer: GPUBuffer; dtype: WeightDtype; byteLength: number; shape: readonly number[] } {
    const w = this.weight(name);
    if (w.parts.length !== 1) throw new RangeError(`${name} is held in ${w.parts.length} buffers (larger than one GPU binding): use weightParts`);
    return { buffer: w.parts[0].buffer, dtype: w.dtype, byteLength: w.parts[0].byteLength, shape: w.shape };
  }

  /** A resident tensor's buffers: rows firstRow … firstRow + rows − 1 each. */
  weightParts(name: string): { dtype: WeightDtype; shape: readonly number[]; parts: readonly WeightPart[] } {
    const w = this.weight(name);
    return { dtype: w.dtype, shape: w.shape, parts: w.parts };
  }

  weightNames(): string[] {
    return [...this.weights.keys()];
  }

  scoreTokens(sequences: readonly Int32Array[], options: ScoreOptions = {}): Promise<Float32Array[]> {
    return this.serial(() => this.score(sequences, options));
  }

  generate(ids: Int32Array, maxNewTokens: number, options: ScoreOptions = {}): Promise<Int32Array> {
    return this.serial(() => this.greedy(ids, maxNewTokens, options));
  }

  reloadWeights(source: WeightSource, options: ScoreOptions = {}): Promise<void> {
    return this.serial(async () => {
      const tensors = tensorInfos(this.config, source, 'new weights');
      for (const t of tensors) {
        const have = this.weight(t.name);
        if (have.shape.length !== t.shape.length || have.shape.some((d, i) => d !== t.shape[i])) {
          throw new InputError(`tensor ${t.name} has shape ${JSON.stringify(t.shape)}, the loaded model has ${JSON.stringify(have.shape)}`);
        }
      }
      await this.upload(source, options);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.weights.values()) for (const p of w.parts) p.buffer.destroy();
    this.weights.clear();
    this.freeWorkspace();
    this.rope?.buffer.destroy();
    this.rope = null;
    if (this.ownsDevice) this.ctx.destroy();
  }

  // ---- setup

  private weight(name: string): ResidentWeight {
    const w = this.weights.get(name);
    if (!w) throw new RangeError(`no resident tensor named ${name}`);
    return w;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.usable(undefined);
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private usable(signal: AbortSignal | undefined): void {
    const lost = this.ctx.lostError();
    if (lost) throw lost;
    if (this.disposed) throw new GPUExecutionError('the WebGPU model was disposed');
    const uncaptured = this.ctx.uncapturedError();
    if (uncaptured) throw uncaptured;
    throwIfAborted(signal);
  }

  /** Builds every pipeline the forward uses now, so a driver that cannot compile them fails at load. */
  private async compile(dtypes: ReadonlySet<WeightDtype>): Promise<void> {
    const scoped = this.ctx.scoped('compiling shaders/model', () => {
      const rec = new ForwardRecorder(this.ctx.device, this.pipelines, this.kernelFeatures);
      const fake = this.ctx.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
      for (const dtype of dtypes) {
        const w = { buffer: fake, dtype };
        rec.matmul(w, fake, fake, { n: 1, m: 1, k: 1, yStride: 1 });
        rec.matmul(w, fake, fake, { n: 64, m: 1, k: 1, yStride: 1 });
        rec.rmsNorm(w, fake, fake, { rows: 1, dim: 1, eps: 1e-6 });
        rec.rmsNorm(w, null, fake, { rows: 1, dim: 1, eps: 1e-6 });
        rec.embed(w, fake, fake, { tokens: 1, dim: 1, firstRow: 0, partRows: 1, row0: 0 });
        rec.addBias(w, fake, { rows: 1, cols: 1, row0: 0 });
      }
      rec.swiglu(fake, fake, 1);
      rec.rope(fake, fake, fake, { rows: 1, heads: 1, halfDim: 1, xRow0: 0, metaRow0: 0 });
      rec.attention(fake, fake, fake, fake, fake, { tokens: 1, heads: 1, kvHeads: 1, headDim: 1, row0: 0 });
      rec.logSoftmaxGather(fake, fake, fake, { rows: 1, vocab: 1, row0: 0 });
      fake.destroy();
    });
    await this.settle(scoped.errors, 'compiling the model kernels');
  }

  private allocate(tensors: readonly TensorInfo[]): void {
    const binding = Math.min(this.limits.maxBufferSize, this.limits.maxStorageBufferBindingSize);
    const scoped = this.ctx.scoped('allocating the weights', () => {
      for (const t of tensors) this.weights.set(t.name, allocateWeight(this.ctx.device, t.name, t.shape, t.dtype, binding));
    });
    // Out of memory shows up in the scope; say so with the numbers.
    scoped.errors.catch(() => undefined);
    this.pendingAllocation = scoped.errors;
  }

  private pendingAllocation: Promise<void> = Promise.resolve();

  private async upload(source: WeightSource, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<void> {
    try {
      await this.settle(this.pendingAllocation, 'allocating the weights');
    } catch (e) {
      if (e instanceof GPUExecutionError && /out of GPU memory/.test(e.message)) {
        throw new ModelDoesNotFitError(`the GPU ran out of memory while allocating the model's weights (${this.fit.summary})`, this.fit);
      }
      throw e;
    }
    const names = [...this.weights.keys()];
    let done = 0;
    for (const name of names) {
      this.usable(opts.signal);
      const w = this.weight(name);
      if (source.streamBytes && source.dtype(name) === w.dtype) {
        // The checkpoint's own bytes: a 16-bit tensor never exists as f32 on the host.
        const errors: Promise<void>[] = [];
        const written = writeWeightBytes(this.ctx.device, w, source.streamBytes(name, opts.signal), (writes) => errors.push(this.ctx.scoped(`uploading ${name}`, writes).errors));
        try {
          await this.settle(written, `uploading ${name}`);
        } finally {
          for (const e of errors) e.catch(() => undefined);
        }
        for (const e of errors) await this.settle(e, `uploading ${name}`);
      } else {
        const values = await source.readF32(name, opts.signal);
        const scoped = this.ctx.scoped(`uploading ${name}`, () => writeWeight(this.ctx.device, w, values));
        await this.settle(scoped.errors, `uploading ${name}`);
      }
      // Bounds the staging memory queued for upload to about one tensor.
      await this.settle(this.ctx.device.queue.onSubmittedWorkDone(), `uploading ${name}`);
      opts.onProgress?.(++done, names.length);
    }
    await this.settle(this.ctx.device.queue.onSubmittedWorkDone(), 'uploading the weights');
  }

  /** Awaits GPU work, turning a loss (possibly reported a moment later) into DeviceLostError. */
  private async settle<T>(p: Promise<T>, what: string): Promise<T> {
    p.catch(() => undefined);
    try {
      return await Promise.race([p, this.ctx.lost]);
    } catch (e) {
      if (e instanceof DeviceLostError || e instanceof GPUExecutionError || e instanceof CancelledError) throw e;
      await Promise.race([this.ctx.lost.catch(() => undefined), new Promise((r) => setTimeout(r, 250))]);
      throw this.ctx.lostError() ?? new GPUExecutionError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---- buffers

  private freeWorkspace(): void {
    const ws = this.ws;
    if (!ws) return;
    for (const b of [ws.h, ws.x, ws.q, ws.attn, ws.gate, ws.up, ...ws.k, ...ws.v, ws.logits, ws.ids, ws.meta, ws.targets, ws.results]) b.destroy();
    this.ws = null;
  }

  /** A workspace at least as large as `want` in every dimension (grown, never shrunk, between calls). */
  private workspace(want: WorkspaceShape): Workspace {
    const have = this.ws?.shape;
    if (have && have.tokens >= want.tokens && have.cacheRows >= want.cacheRows && have.cacheLayers >= want.cacheLayers && have.logitRows >= want.logitRows) return this.ws!;
    const shape: WorkspaceShape = {
      tokens: Math.max(want.tokens, have?.tokens ?? 0),
      cacheRows: Math.max(want.cacheRows, have?.cacheRows ?? 0),
      cacheLayers: Math.max(want.cacheLayers, have?.cacheLayers ?? 0),
      logitRows: Math.max(want.logitRows, have?.logitRows ?? 0),
    };
    this.freeWorkspace();
    const c = this.config;
    const d = this.ctx.device;
    const STORAGE = GPUBufferUsage.STORAGE;
    const make = (label: string, elements: number, usage = STORAGE): GPUBuffer => d.createBuffer({ label, size: Math.max(16, Math.ceil((elements * 4) / 16) * 16), usage });
    const kvDim = c.numKvHeads * c.headDim;
    const qDim = c.numHeads * c.headDim;
    const ws: Workspace = {
      shape,
      h: make('residual', shape.tokens * c.hiddenSize),
      x: make('normed', shape.tokens * c.hiddenSize),
      q: make('queries', shape.tokens * qDim),
      attn: make('attention output', shape.tokens * qDim),
      gate: make('mlp gate', shape.tokens * c.intermediateSize),
      up: make('mlp up', shape.tokens * c.intermediateSize),
      k: Array.from({ length: shape.cacheLayers }, (_, l) => make(`key cache ${l}`, shape.cacheRows * kvDim)),
      v: Array.from({ length: shape.cacheLayers }, (_, l) => make(`value cache ${l}`, shape.cacheRows * kvDim)),
      logits: make('logits', shape.logitRows * c.vocabSize),
      ids: make('token ids', shape.cacheRows, STORAGE | GPUBufferUsage.COPY_DST),
      meta: make('token positions', META_WORDS * shape.cacheRows, STORAGE | GPUBufferUsage.COPY_DST),
      targets: make('next tokens', shape.cacheRows, STORAGE | GPUBufferUsage.COPY_DST),
      results: make('log-probs and argmax', 2 * shape.cacheRows, STORAGE | GPUBufferUsage.COPY_SRC),
    };
    this.ws = ws;
    return ws;
  }

  /** The (cos, sin) table for positions 0 … positions − 1, from the f32 angles fround(pos · inv_freq). */
  private ropeTable(positions: number): GPUBuffer {
    if (this.rope && this.rope.positions >= positions) return this.rope.buffer;
    const n = Math.max(positions, 2 * (this.rope?.positions ?? 0), 256);
    const half = this.invFreq.length;
    const table = new Float32Array(n * half * 2);
    for (let p = 0; p < n; p++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * this.invFreq[i]);
        table[2 * (p * half + i)] = Math.cos(angle);
        table[2 * (p * half + i) + 1] = Math.sin(angle);
      }
    }
    this.rope?.buffer.destroy();
    const buffer = this.ctx.device.createBuffer({ label: 'rope table', size: table.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.ctx.device.queue.writeBuffer(buffer, 0, table);
    this.rope = { buffer, positions: n };
    return buffer;
  }

  // ---- the forward

  /** y (=|+=) x · Wᵀ for every part of W (a part writes its own columns). */
  private linear(rec: ForwardRecorder, name: string, x: GPUBuffer, y: GPUBuffer, s: { n: number; xRow0?: number; yRow0?: number; accumulate?: boolean }): void {
    const w = this.weight(name);
    const out = w.shape[0];
    for (const part of w.parts) {
      rec.matmul(this.bound(w, part), x, y, { n: s.n, m: part.rows, k: w.rowLength, xRow0: s.xRow0, yRow0: s.yRow0, yStride: out, col0: part.firstRow, accumulate: s.accumulate });
    }
  }

  private bound(w: ResidentWeight, part: WeightPart = w.parts[0]): BoundWeight {
    return { buffer: part.buffer, dtype: w.dtype };
  }

  /**
   * Records the forward of `n` tokens at cache rows row0 … row0 + n − 1 (their ids, positions and
   * targets already in the workspace), and the LM head on `lm.count` of them from local row lm.from.
   * With `cachePerLayer`, every layer keeps its own KV cache (generation); otherwise they share one.
   * With `layers`, only decoder layers [layers.from, layers.to): the embedding comes with layer 0 and
   * the LM head with the last layer.
   */
  private recordForward(
    rec: ForwardRecorder,
    ws: Workspace,
    n: number,
    row0: number,
    cachePerLayer: boolean,
    lm: { from: number; count: number },
    table: GPUBuffer,
    layers: { from: number; to: number } = { from: 0, to: this.config.numLayers },
  ): void {
    const c = this.config;
    const D = c.headDim;
    const embed = this.weight(EMBED_TOKENS);
    if (layers.from === 0) for (const part of embed.parts) rec.embed(this.bound(embed, part), ws.ids, ws.h, { tokens: n, dim: c.hiddenSize, firstRow: part.firstRow, partRows: part.rows, row0 });
    for (let l = layers.from; l < layers.to; l++) {
      const t = layerTensorNames(l);
      const k = ws.k[cachePerLayer ? l : 0];
      const v = ws.v[cachePerLayer ? l : 0];
      rec.rmsNorm(this.bound(this.weight(t.inputNorm)), ws.h, ws.x, { rows: n, dim: c.hiddenSize, eps: c.rmsNormEps });
      this.linear(rec, t.q, ws.x, ws.q, { n });
      this.linear(rec, t.k, ws.x, k, { n, yRow0: row0 });
      this.linear(rec, t.v, ws.x, v, { n, yRow0: row0 });
      if (c.attentionBias) {
        rec.addBias(this.bound(this.weight(t.qBias)), ws.q, { rows: n, cols: c.numHeads * D, row0: 0 });
        rec.addBias(this.bound(this.weight(t.kBias)), k, { rows: n, cols: c.numKvHeads * D, row0 });
        rec.addBias(this.bound(this.weight(t.vBias)), v, { rows: n, cols: c.numKvHeads * D, row0 });
      }
      if (c.qkNorm) {
        rec.rmsNorm(this.bound(this.weight(t.qNorm)), null, ws.q, { rows: n * c.numHeads, dim: D, eps: c.rmsNormEps });
        rec.rmsNorm(this.bound(this.weight(t.kNorm)), null, k, { rows: n * c.numKvHeads, dim: D, row0: row0 * c.numKvHeads, eps: c.rmsNormEps });
      }
      rec.rope(table, ws.meta, ws.q, { rows: n, heads: c.numHeads, halfDim: D / 2, xRow0: 0, metaRow0: row0 });
      rec.rope(table, ws.meta, k, { rows: n, heads: c.numKvHeads, halfDim: D / 2, xRow0: row0, metaRow0: row0 });
      rec.attention(ws.q, k, v, ws.meta, ws.attn, { tokens: n, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: D, row0 });
      this.linear(rec, t.o, ws.attn, ws.h, { n, accumulate: true });
      rec.rmsNorm(this.bound(this.weight(t.postNorm)), ws.h, ws.x, { rows: n, dim: c.hiddenSize, eps: c.rmsNormEps });
      this.linear(rec, t.gate, ws.x, ws.gate, { n });
      this.linear(rec, t.up, ws.x, ws.up, { n });
      rec.swiglu(ws.gate, ws.up, n * c.intermediateSize);
      this.linear(rec, t.down, ws.gate, ws.h, { n, accumulate: true });
    }
    if (layers.to < c.numLayers) return;
    rec.rmsNorm(this.bound(this.weight(FINAL_NORM)), ws.h, ws.x, { rows: n, dim: c.hiddenSize, eps: c.rmsNormEps });
    const head = c.tieWordEmbeddings ? EMBED_TOKENS : LM_HEAD;
    const chunk = ws.shape.logitRows;
    for (let r = 0; r < lm.count; r += chunk) {
      const rows = Math.min(chunk, lm.count - r);
      this.linear(rec, head, ws.x, ws.logits, { n: rows, xRow0: lm.from + r });
      rec.logSoftmaxGather(ws.logits, ws.targets, ws.results, { rows, vocab: c.vocabSize, row0: row0 + lm.from + r });
    }
  }

  /**
   * Submits `encode`'s commands; the promise settles when the GPU has run them (its temporaries then
   * destroyed), or with the device's loss or the commands' error.
   */
  private submitLayers(what: string, encode: (enc: GPUCommandEncoder) => GPUBuffer[]): Promise<void> {
    let temporaries: GPUBuffer[] = [];
    const scoped = this.ctx.scoped(what, () => {
      const enc = this.ctx.device.createCommandEncoder({ label: what });
      temporaries = encode(enc);
      this.ctx.device.queue.submit([enc.finish()]);
    });
    const done = (async () => {
      try {
        await this.settle(scoped.errors, what);
        await this.settle(this.ctx.device.queue.onSubmittedWorkDone(), what);
      } finally {
        for (const b of temporaries) b.destroy();
      }
    })();
    // Awaited later (after the next submit): never an unhandled rejection in between.
    done.catch(() => undefined);
    return done;
  }

  /** Submits `encode`'s commands and reads back results words [first, first + count) (2 per row). */
  private async submitAndRead(what: string, encode: (enc: GPUCommandEncoder) => GPUBuffer[], ws: Workspace, firstRow: number, rows: number): Promise<Uint32Array> {
    const bytes = rows * 8;
    const staging = this.ctx.device.createBuffer({ label: `${what} readback`, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let temporaries: GPUBuffer[] = [];
    try {
      const scoped = this.ctx.scoped(what, () => {
        const enc = this.ctx.device.createCommandEncoder({ label: what });
        temporaries = encode(enc);
        enc.copyBufferToBuffer(ws.results, firstRow * 8, staging, 0, bytes);
        this.ctx.device.queue.submit([enc.finish()]);
      });
      await this.settle(scoped.errors, what);
      await this.settle(staging.mapAsync(GPUMapMode.READ, 0, bytes), `${what}: reading the results back`);
      const out = new Uint32Array(rows * 2);
      out.set(new Uint32Array(staging.getMappedRange(0, bytes)));
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
      for (const b of temporaries) b.destroy();
    }
  }

  /** The model's context, and Mistral's / Qwen2's sliding window (not implemented: longer is refused, as on the CPU). */
  private checkContext(tokens: number, what: string): void {
    const c = this.config;
    if (tokens > c.maxPositionEmbeddings) throw new InputError(`${what} has ${tokens} tokens, more than the model's context of ${c.maxPositionEmbeddings}`);
    const window = c.slidingWindow ?? null;
    if (window !== null && tokens > window) {
      throw new InputError(`${what} has ${tokens} tokens, more than the model's sliding attention window of ${window}, which SoupLab does not implement`);
    }
  }

  private checkIds(ids: Int32Array, what: string): void {
    checkTokenIds(ids, this.config.vocabSize, what);
  }

  private async score(sequences: readonly Int32Array[], options: ScoreOptions): Promise<Float32Array[]> {
    sequences.forEach((s, i) => this.checkIds(s, `sequence ${i}`));
    const out = sequences.map((s) => new Float32Array(Math.max(0, s.length - 1)));
    const total = sequences.reduce((sum, s) => sum + Math.max(0, s.length - 1), 0);
    // Batches of whole sequences up to batchTokens (rows, after sharing); a longer sequence runs alone (as long as it fits a binding).
    const batches: Placed[][] = [];
    let current: Placed[] = [];
    let rows = 0;
    let anchor: Placed | null = null;
    sequences.forEach((s, i) => {
      if (s.length < 2) return;
      this.checkContext(s.length, `sequence ${i}`);
      if (s.length > this.maxTokens) {
        throw new InputError(`sequence ${i} has ${s.length} tokens; this GPU's binding limit allows at most ${this.maxTokens} in one pass`);
      }
      const shared = anchor && this.shareContext ? sharedRows(sequences[anchor.index], s) : 0;
      const own = s.length - shared;
      if (current.length > 0 && rows + own > this.batchTokens) {
        batches.push(current);
        current = [];
        rows = 0;
        anchor = null;
      }
      // A new batch has no anchor: the sequence then shares nothing and becomes one.
      const placed: Placed = { index: i, start: rows, shared: anchor ? shared : 0, anchor };
      if (placed.shared === 0) {
        placed.anchor = null;
        anchor = placed;
      }
      current.push(placed);
      rows += s.length - placed.shared;
    });
    if (current.length > 0) batches.push(current);

    let done = 0;
    for (const batch of batches) {
      this.usable(options.signal);
      const N = batch.reduce((sum, b) => sum + sequences[b.index].length - b.shared, 0);
      this.rowsScored += N;
      const longest = Math.max(...batch.map((b) => sequences[b.index].length));
      const ws = this.workspace({ tokens: N, cacheRows: N, cacheLayers: 1, logitRows: logitRowsFor(this.config, this.limits, N) });
      const ids = new Uint32Array(N);
      const meta = new Uint32Array(META_WORDS * N);
      const targets = new Uint32Array(N).fill(NO_TARGET);
      for (const b of batch) {
        const s = sequences[b.index];
        // Token t of this sequence sits at row start + t − shared; tokens before `shared` are the anchor's rows.
        for (let t = b.shared; t < s.length; t++) {
          const g = b.start + t - b.shared;
          ids[g] = s[t];
          meta.set([t, b.start, b.anchor?.start ?? 0, b.shared], META_WORDS * g);
          if (t + 1 < s.length) targets[g] = s[t + 1];
        }
      }
      const q = this.ctx.device.queue;
      q.writeBuffer(ws.ids, 0, ids);
      q.writeBuffer(ws.meta, 0, meta);
      q.writeBuffer(ws.targets, 0, targets);
      const table = this.ropeTable(longest);
      const record = (enc: GPUCommandEncoder, layers: { from: number; to: number }): GPUBuffer[] => {
        const rec = new ForwardRecorder(this.ctx.device, this.pipelines, this.kernelFeatures);
        this.recordForward(rec, ws, N, 0, false, { from: 0, count: N }, table, layers);
        const uniforms = rec.encode(enc, 'forward');
        return uniforms ? [uniforms] : [];
      };
      // The decoder layers in groups, each its own submit, the signal checked between them; the last group
      // with the output layer and the read-back.
      const L = this.config.numLayers;
      let queued: Promise<void> | null = null;
      for (let from = 0; from + LAYERS_PER_SUBMIT < L; from += LAYERS_PER_SUBMIT) {
        const done = this.submitLayers('scoring a batch', (enc) => record(enc, { from, to: from + LAYERS_PER_SUBMIT }));
        if (queued) await queued;
        this.usable(options.signal);
        queued = done;
      }
      if (queued) await queued;
      this.usable(options.signal);
      const words = await this.submitAndRead('scoring a batch', (enc) => record(enc, { from: L - 1 - ((L - 1) % LAYERS_PER_SUBMIT), to: L }), ws, 0, N);
      const logProbs = new Float32Array(words.buffer);
      for (const b of batch) {
        const s = sequences[b.index];
        // The shared context's log-probs are the anchor's (same tokens, same next tokens: see sharedRows).
        for (let t = 0; t < b.shared; t++) out[b.index][t] = out[b.anchor!.index][t];
        for (let t = b.shared; t + 1 < s.length; t++) out[b.index][t] = logProbs[2 * (b.start + t - b.shared)];
        done += s.length - 1;
      }
      options.onProgress?.(done, total);
    }
    return out;
  }

  private async greedy(prompt: Int32Array, maxNewTokens: number, options: ScoreOptions): Promise<Int32Array> {
    this.checkIds(prompt, 'prompt');
    if (prompt.length === 0) throw new InputError('generation needs a prompt of at least one token');
    const L = prompt.length;
    this.checkContext(L, 'the prompt');
    // Generation stops where the context (or the sliding window) ends.
    const context = Math.min(this.config.maxPositionEmbeddings, this.config.slidingWindow ?? Infinity);
    const wanted = Math.max(0, Math.min(Math.floor(maxNewTokens), context - L + 1));
    if (wanted === 0) return new Int32Array(0);
    const rows = L + wanted - 1;
    const c = this.config;
    const prefill = Math.min(L, this.batchTokens);
    const ws = this.workspace({ tokens: prefill, cacheRows: rows, cacheLayers: c.numLayers, logitRows: 1 });
    const q = this.ctx.device.queue;
    const meta = new Uint32Array(META_WORDS * rows);
    for (let g = 0; g < rows; g++) meta[META_WORDS * g] = g;
    q.writeBuffer(ws.ids, 0, Uint32Array.from(prompt));
    q.writeBuffer(ws.meta, 0, meta);
    q.writeBuffer(ws.targets, 0, new Uint32Array(rows).fill(NO_TARGET));
    const table = this.ropeTable(rows);
    const produced: number[] = [];
    const eos = c.eosTokenId;
    // Step 0 is the prompt (in chunks of `prefill` rows); step s ≥ 1 feeds the token made by step s − 1.
    let step = 0;
    while (step < wanted) {
      this.usable(options.signal);
      const first = step;
      const last = Math.min(wanted, first + STEPS_PER_SUBMIT);
      // Rows whose argmax this submit produces: the prompt's last row, then one row per step.
      const firstResultRow = first === 0 ? L - 1 : L - 1 + first;
      const words = await this.submitAndRead(
        'generating',
        (enc) => {
          const temporaries: GPUBuffer[] = [];
          for (let s = first; s < last; s++) {
            const rec = new ForwardRecorder(this.ctx.device, this.pipelines, this.kernelFeatures);
            if (s === 0) {
              for (let r0 = 0; r0 < L; r0 += prefill) {
                const n = Math.min(prefill, L - r0);
                const lastChunk = r0 + n === L;
                this.recordForward(rec, ws, n, r0, true, { from: n - 1, count: lastChunk ? 1 : 0 }, table);
                const u = rec.encode(enc, 'prefill');
                if (u) temporaries.push(u);
              }
            } else {
              const row = L - 1 + s;
              // The argmax of the previous row is this row's token.
              enc.copyBufferToBuffer(ws.results, (2 * (row - 1) + 1) * 4, ws.ids, row * 4, 4);
              this.recordForward(rec, ws, 1, row, true, { from: 0, count: 1 }, table);
              const u = rec.encode(enc, 'generate');
              if (u) temporaries.push(u);
            }
          }
          return temporaries;
        },
        ws,
        firstResultRow,
        last - first,
      );
      for (let s = 0; s < last - first; s++) {
        const id = words[2 * s + 1];
        produced.push(id);
        options.onProgress?.(produced.length, wanted);
        if (eos !== null && id === eos) return Int32Array.from(produced);
      }
      step = last;
    }
    return Int32Array.from(produced);
  }
}

/** The one-line summary of a fit, for logs and errors. */
export function describeFit(fit: ModelFit): string {
  return `${fit.fits ? 'fits' : 'does not fit'}: ${fit.summary}${fit.problems.length ? ` — ${fit.problems.join('; ')}` : ''} (total ${formatBytes(fit.totalBytes)})`;
}
