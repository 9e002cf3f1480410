/**
 * The fast CPU forward pass: the same decoder as the f32 reference (CpuCausalLM, its referee in the
 * tests), with the weight matrices kept in the dtype the checkpoint stores them (BF16/F16 as 16-bit
 * values, F32 as is) in one WebAssembly memory (or, for a model larger than it, outside it, staged into it a
 * chunk of rows at a time), multiplied by the SIMD kernel of matmulKernel.ts on
 * several threads (kernelThreads.ts), many tokens per matmul. The small per-token work (norms, RoPE,
 * attention's gathers) runs on the calling thread with the reference's own functions on views of that
 * memory; SwiGLU, attention's softmax and the log-sum-exp over the vocabulary, as much work as all of
 * that and more at long contexts, are split over the threads too, in WebAssembly SIMD
 * (elementwiseKernel.ts). Activations stay f32; matmuls accumulate in f32.
 */
import { checkTokenIds } from '../tokenIds';
import { InputError, throwIfAborted } from '../../errors';
import { decodeToF32, encodeFromF32 } from '../../formats/floatArrays';
import { sharedMemoryUsable } from '../../util/sharedMemory';
import type { CausalLM, ModelConfig, ScoreOptions, WeightSource } from '../types';
import { checkWeights, EMBED_TOKENS, FINAL_NORM, layerTensorNames, LM_HEAD } from '../weights';
import { KvCache } from './cpuCausalLM';
import { CONTROL_BYTES, KernelThreads, type KernelThreadsOption } from './kernelThreads';
import { DTYPE_BYTES, K_STEP, panelBytes, ROW_TILE, type WeightDtype } from './matmulKernel';
import { addBias, addInPlace, rmsNorm, rope, ropeInvFreq } from './ops';

interface Matrix {
  name: string;
  /** Byte address in the memory, when the matrix is there. */
  at: number;
  /** The matrix's bytes outside the memory (a model larger than one WebAssembly memory), or null. */
  outside: Uint8Array | null;
  dtype: WeightDtype;
  /** Output features (rows of the PyTorch [out, in] layout). */
  m: number;
  /** Input features. */
  k: number;
}

interface Layer {
  inputNorm: Float32Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  qBias: Float32Array | null;
  kBias: Float32Array | null;
  vBias: Float32Array | null;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  o: Matrix;
  postNorm: Float32Array;
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

interface Vectors {
  layers: Pick<Layer, 'inputNorm' | 'qBias' | 'kBias' | 'vBias' | 'qNorm' | 'kNorm' | 'postNorm'>[];
  finalNorm: Float32Array;
}

/** Byte addresses of the activation buffers (f32), each for BATCH_ROWS rows. */
interface Scratch {
  xn: number;
  q: number;
  k: number;
  v: number;
  attn: number;
  proj: number;
  gate: number;
  up: number;
  logits: number;
  /** Per row of logits, its max and Σ exp(x − max) (two f64). */
  logSumExps: number;
  /** Attention, per query head: its queries [rows, headDim], its kv head's keys [context, headDim] and values transposed [headDim, context8], scores [rows, context], probabilities [rows, context8], output [rows, headDim]. */
  attQ: number;
  attK: number;
  attVT: number;
  attS: number;
  attP: number;
  attO: number;
  /** softmax_rows's geometry: i32 T, T8, past, f32 scale. */
  attGeometry: number;
}

/** Where matrices held outside the memory are copied, a chunk of rows at a time, to be multiplied. */
interface Staging {
  at: number;
  bytes: number;
}

/** Bytes of the staging area (at most the largest matrix; at least two rows). */
const STAGING_BYTES = 64 * 1024 * 1024;

/** Tokens per forward step (a longer sequence goes through the KV cache in steps of this many). */
const BATCH_ROWS = 128;
/**
 * Rows of logits computed at once (×vocabulary f32 values of memory: 39 MB at Qwen2's 151,936). The output
 * matrix streams from memory (and is widened) once per this many rows: 16 read a 0.5 B model's 272 MB
 * embedding table 8 times per 128 tokens.
 */
const LOGIT_ROWS = 64;
const ALIGN = 64;
/** Elements (or, for the log-sum-exp, vocabulary entries) below which a thread's share of a loop is not worth waking it for. */
const MIN_LOOP_PER_THREAD = 1 << 15;
/**
 * Attention scores below which a thread's share of one head's softmax is not worth waking it for: lower
 * than MIN_LOOP_PER_THREAD, since the helpers are still spinning from the head's QKᵀ product (a 128-token
 * step splits from a context of about 200).
 */
const MIN_SOFTMAX_PER_THREAD = 1 << 13;
const PAGE = 65536;
const MAX_PAGES = 65536;

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export interface FastCpuOptions extends ScoreOptions {
  name?: string;
  /** Helper threads from the platform (Node worker threads, web workers); without them, one thread. */
  threads?: KernelThreadsOption;
  /** The WebAssembly memory's size limit (default and most: 4 GiB); weights that do not fit beside the activations are held outside it. Tests lower it to force that path. */
  memoryLimitBytes?: number;
  /** Bytes of the staging area for weights held outside the memory (default STAGING_BYTES; tests lower it to force chunks). */
  stagingBytes?: number;
}

export class FastCpuCausalLM implements CausalLM {
  readonly backend = 'cpu' as const;
  private disposed = false;
  private readonly invFreq: Float32Array;

  private constructor(
    readonly config: ModelConfig,
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: KernelThreads,
    private readonly layers: Layer[],
    private readonly embed: Matrix,
    private readonly lmHead: Matrix,
    private finalNorm: Float32Array,
    private readonly scratch: Scratch,
    private readonly staging: Staging | null,
  ) {
    this.invFreq = ropeInvFreq(config.headDim, config.ropeTheta, config.ropeScaling);
  }

  /** Why this runtime cannot run `config`, or null when it can (matmul inputs come 8 values at a time). */
  static unsupported(c: ModelConfig): string | null {
    const dims = { hidden_size: c.hiddenSize, 'num_attention_heads × head_dim': c.numHeads * c.headDim, intermediate_size: c.intermediateSize, head_dim: c.headDim };
    for (const [what, d] of Object.entries(dims)) if (d % K_STEP !== 0) return `its ${what} (${d}) is not a multiple of ${K_STEP}`;
    return null;
  }

  /** Lays the weights out in one memory (in the dtypes `source` stores them) and reads them in. */
  static async load(config: ModelConfig, source: WeightSource, options: FastCpuOptions = {}): Promise<FastCpuCausalLM> {
    const name = options.name ?? 'model';
    checkWeights(config, source, name);
    const why = FastCpuCausalLM.unsupported(config);
    if (why) throw new InputError(`${name}: the fast CPU runtime cannot run this model: ${why}`);
    const c = config;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    let end = CONTROL_BYTES;
    const f32Buffer = (rows: number, width: number) => {
      const at = alignUp(end, ALIGN);
      end = at + rows * width * 4;
      return at;
    };
    const B = BATCH_ROWS;
    const scratch: Scratch = {
      xn: f32Buffer(B, c.hiddenSize),
      q: f32Buffer(B, qDim),
      k: f32Buffer(B, kvDim),
      v: f32Buffer(B, kvDim),
      attn: f32Buffer(B, qDim),
      proj: f32Buffer(B, c.hiddenSize),
      gate: f32Buffer(B, c.intermediateSize),
      up: f32Buffer(B, c.intermediateSize),
      logits: f32Buffer(LOGIT_ROWS, c.vocabSize),
      logSumExps: f32Buffer(LOGIT_ROWS, 4),
      attQ: f32Buffer(B, c.headDim),
      attK: f32Buffer(alignUp(c.maxPositionEmbeddings, K_STEP), c.headDim),
      attVT: f32Buffer(c.headDim, alignUp(c.maxPositionEmbeddings, K_STEP)),
      attS: f32Buffer(B, alignUp(c.maxPositionEmbeddings, K_STEP)),
      attP: f32Buffer(B, alignUp(c.maxPositionEmbeddings, K_STEP)),
      attO: f32Buffer(B, c.headDim),
      attGeometry: f32Buffer(1, 4),
    };
    // One panel per thread, where a block of 16-bit weight rows is widened to f32 before it is multiplied.
    const shared = sharedMemoryUsable();
    const threadCount = KernelThreads.count(shared, options.threads);
    const widest = Math.max(c.hiddenSize, qDim, c.intermediateSize);
    const panelStride = alignUp(panelBytes(widest), ALIGN);
    const panels = { at: f32Buffer(threadCount, panelStride / 4), stride: panelStride };

    const matrix = (tensor: string, m: number, k: number): Matrix => ({ name: tensor, at: 0, outside: null, dtype: source.dtype(tensor), m, k });
    const layers: Omit<Layer, keyof Vectors['layers'][number]>[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const n = layerTensorNames(l);
      layers.push({
        q: matrix(n.q, qDim, c.hiddenSize),
        k: matrix(n.k, kvDim, c.hiddenSize),
        v: matrix(n.v, kvDim, c.hiddenSize),
        o: matrix(n.o, c.hiddenSize, qDim),
        gate: matrix(n.gate, c.intermediateSize, c.hiddenSize),
        up: matrix(n.up, c.intermediateSize, c.hiddenSize),
        down: matrix(n.down, c.hiddenSize, c.intermediateSize),
      });
    }
    const embed = matrix(EMBED_TOKENS, c.vocabSize, c.hiddenSize);
    const lmHead = c.tieWordEmbeddings ? embed : matrix(LM_HEAD, c.vocabSize, c.hiddenSize);
    const matrices = allMatrices(layers, embed, lmHead);
    const sizeOf = (m: Matrix) => m.m * m.k * DTYPE_BYTES[m.dtype];
    const weightBytes = matrices.reduce((sum, m) => sum + alignUp(sizeOf(m), ALIGN), 0);
    const limit = Math.min(options.memoryLimitBytes ?? Infinity, MAX_PAGES * PAGE);
    let staging: Staging | null = null;
    if (alignUp(end, ALIGN) + weightBytes <= limit) {
      for (const m of matrices) {
        m.at = alignUp(end, ALIGN);
        end = m.at + sizeOf(m);
      }
    } else {
      // Too large for one WebAssembly memory (4 GB): the weights are held outside it, in the checkpoint's
      // dtypes, and each matrix is copied into a staging area a chunk of rows at a time as it is multiplied
      // (a copy of the weights per forward step of up to BATCH_ROWS tokens).
      const largest = Math.max(...matrices.map(sizeOf));
      const bytes = alignUp(Math.max(2 * widest * 4, Math.min(largest, options.stagingBytes ?? STAGING_BYTES)), ALIGN);
      staging = { at: f32Buffer(1, bytes / 4), bytes };
      for (const m of matrices) m.outside = new Uint8Array(sizeOf(m));
    }
    const pages = Math.ceil(end / PAGE);
    if (end > limit) {
      throw new InputError(
        `${name}: its activations and the staging of its weights need ${(end / 1e9).toFixed(2)} GB, more than the ${(limit / 1e9).toFixed(2)} GB one WebAssembly memory holds (use --backend webgpu)`,
      );
    }
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared } as WebAssembly.MemoryDescriptor);
    const kernels = new KernelThreads(memory, pages, shared, options.threads, panels);
    try {
      const vectors = await readVectors(c, source, options.signal);
      const model = new FastCpuCausalLM(
        config,
        memory,
        kernels,
        layers.map((m, l) => ({ ...m, ...vectors.layers[l] })),
        embed,
        lmHead,
        vectors.finalNorm,
        scratch,
        staging,
      );
      await model.readMatrices(source, name, options);
      return model;
    } catch (e) {
      kernels.dispose();
      throw e;
    }
  }

  /** For people: "CPU (WebAssembly SIMD, 2 threads, BF16 weights)". */
  get description(): string {
    const dtypes = [...new Set(this.matrices().map((m) => m.dtype))].join('/');
    return `CPU (WebAssembly SIMD, ${this.kernels.count} thread${this.kernels.count === 1 ? '' : 's'}, ${dtypes} weights${this.staging ? ' held outside WebAssembly memory' : ''})`;
  }

  /** Bytes of its WebAssembly memory (weights, when they fit, activations, panels, staging). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes of the weight matrices as held (the checkpoint's dtypes). */
  get weightBytes(): number {
    return this.matrices().reduce((s, m) => s + m.m * m.k * DTYPE_BYTES[m.dtype], 0);
  }

  async reloadWeights(source: WeightSource, options: ScoreOptions = {}): Promise<void> {
    this.live();
    checkWeights(this.config, source, 'new weights');
    const vectors = await readVectors(this.config, source, options.signal);
    await this.readMatrices(source, 'new weights', options);
    this.layers.forEach((L, l) => Object.assign(L, vectors.layers[l]));
    this.finalNorm = vectors.finalNorm;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernels.dispose();
  }

  async scoreTokens(sequences: readonly Int32Array[], options: ScoreOptions = {}): Promise<Float32Array[]> {
    this.live();
    for (const ids of sequences) this.checkIds(ids);
    const total = sequences.reduce((s, q) => s + q.length, 0);
    let done = 0;
    const results: Float32Array[] = [];
    for (const ids of sequences) {
      const out = new Float32Array(Math.max(0, ids.length - 1));
      if (ids.length >= 2) {
        const V = this.config.vocabSize;
        await this.run(ids.subarray(0, ids.length - 1), options.signal, (first, logits, rows) => {
          const lse = this.logSumExps(rows);
          for (let r = 0; r < rows; r++) {
            const t = first + r;
            out[t] = logits[r * V + ids[t + 1]] - lse[r];
          }
        });
      }
      results.push(out);
      done += ids.length;
      options.onProgress?.(done, total);
    }
    return results;
  }

  /** The next-token logits after every prefix of `ids`: [ids.length, vocabSize] (for tests). */
  async logits(ids: Int32Array, options: Pick<ScoreOptions, 'signal'> = {}): Promise<Float32Array> {
    this.live();
    this.checkIds(ids);
    const V = this.config.vocabSize;
    const out = new Float32Array(ids.length * V);
    await this.run(ids, options.signal, (first, logits, rows) => out.set(logits.subarray(0, rows * V), first * V));
    return out;
  }

  async generate(ids: Int32Array, maxNewTokens: number, options: ScoreOptions = {}): Promise<Int32Array> {
    this.live();
    this.checkIds(ids);
    if (ids.length === 0) throw new InputError('generate: the prompt has no tokens');
    const cache = this.newCache();
    const V = this.config.vocabSize;
    const out: number[] = [];
    let input: Int32Array = ids;
    for (let step = 0; step < maxNewTokens; step++) {
      let best = 0;
      await this.run(input, options.signal, (first, logits, rows) => {
        if (first + rows < input.length) return;
        const o = (input.length - 1 - first) * V;
        for (let j = 1; j < V; j++) if (logits[o + j] > logits[o + best]) best = j;
      }, cache, input.length - 1);
      out.push(best);
      options.onProgress?.(step + 1, maxNewTokens);
      if (best === this.config.eosTokenId) break;
      input = Int32Array.of(best);
    }
    return Int32Array.from(out);
  }

  private matrices(): Matrix[] {
    return allMatrices(this.layers, this.embed, this.lmHead);
  }

  /**
   * Copies every matrix of `source` into its place, in the dtype it was laid out with: the stored bytes
   * when the source has them in that dtype, else its f32 values rounded (a soup's, as its export rounds).
   */
  private async readMatrices(source: WeightSource, name: string, options: ScoreOptions): Promise<void> {
    const matrices = this.matrices();
    let done = 0;
    for (const m of matrices) {
      throwIfAborted(options.signal);
      const bytes = this.matrixBytes(m);
      let at = 0;
      if (source.streamBytes && source.dtype(m.name) === m.dtype) {
        for await (const chunk of source.streamBytes(m.name, options.signal)) {
          bytes.set(chunk, at);
          at += chunk.length;
        }
      } else {
        const pieces = source.streamF32 ? source.streamF32(m.name, options.signal) : [await source.readF32(m.name, options.signal)];
        for await (const values of pieces) {
          encodeFromF32(m.dtype, values, bytes.subarray(at, at + values.length * DTYPE_BYTES[m.dtype]));
          at += values.length * DTYPE_BYTES[m.dtype];
        }
      }
      if (at !== bytes.length) throw new InputError(`${name}: tensor ${m.name} gave ${at} bytes, ${bytes.length} expected`);
      if (m.dtype === 'F16') refuseF16NonFinite(bytes, name, m.name);
      options.onProgress?.(++done, matrices.length);
    }
  }

  /** The matrix's bytes, in the memory or outside it. */
  private matrixBytes(m: Matrix): Uint8Array {
    return m.outside ?? new Uint8Array(this.memory.buffer, m.at, m.m * m.k * DTYPE_BYTES[m.dtype]);
  }

  /**
   * y = x · Wᵀ for `rows` activation rows at byte addresses x and y. A matrix outside the memory is
   * copied into the staging area in chunks of rows, each multiplied into its columns of y (a lone last
   * row goes with the one before: the kernel takes weight rows in pairs).
   */
  private multiply(m: Matrix, x: number, y: number, rows: number): void {
    if (!m.outside || !this.staging) {
      this.kernels.matmul(m.dtype, x, m.at, y, rows, m.k, m.m);
      return;
    }
    const rowBytes = m.k * DTYPE_BYTES[m.dtype];
    const chunk = Math.max(2, Math.floor(this.staging.bytes / rowBytes) & ~1);
    const memory = new Uint8Array(this.memory.buffer);
    for (let a = 0; a < m.m; a += chunk) {
      const b = Math.min(m.m, a + chunk);
      const from = b - a === 1 ? b - 2 : a;
      memory.set(m.outside.subarray(from * rowBytes, b * rowBytes), this.staging.at);
      this.kernels.matmul(m.dtype, x, this.staging.at - from * rowBytes, y, rows, m.k, m.m, from, b);
    }
  }

  /** The log-sum-exp of each of the first `rows` rows of the logits scratch, on the threads. */
  private logSumExps(rows: number): Float64Array {
    const V = this.config.vocabSize;
    const rowsPerThread = Math.max(1, Math.ceil(MIN_LOOP_PER_THREAD / V));
    this.kernels.elementwise('lse_rows', [this.scratch.logits, V, this.scratch.logSumExps], rows, rowsPerThread);
    const pairs = new Float64Array(this.memory.buffer, this.scratch.logSumExps, 2 * rows);
    return Float64Array.from({ length: rows }, (_, r) => pairs[2 * r] + Math.log(pairs[2 * r + 1]));
  }

  private live(): void {
    if (this.disposed) throw new Error('FastCpuCausalLM: used after dispose()');
  }

  private newCache(): KvCache {
    return new KvCache(this.config.numLayers, this.config.numKvHeads * this.config.headDim);
  }

  private checkIds(ids: Int32Array): void {
    checkTokenIds(ids, this.config.vocabSize);
  }

  /**
   * Runs `ids` through the model (appending to `cache`) in steps of BATCH_ROWS tokens and hands the
   * logits of rows `fromRow`… to `take` in pieces: take(first row, logits [rows, vocab], rows).
   */
  private async run(
    ids: Int32Array,
    signal: AbortSignal | undefined,
    take: (first: number, logits: Float32Array, rows: number) => void,
    cache: KvCache = this.newCache(),
    fromRow = 0,
  ): Promise<void> {
    const c = this.config;
    const past = cache.rows;
    if (past + ids.length > c.maxPositionEmbeddings) throw new InputError(`the sequence has ${past + ids.length} tokens, more than the model's context of ${c.maxPositionEmbeddings}`);
    const window = c.slidingWindow ?? null;
    if (window !== null && past + ids.length > window) {
      throw new InputError(`the sequence has ${past + ids.length} tokens, more than the model's sliding attention window of ${window}, which SoupLab does not implement`);
    }
    const D = c.hiddenSize;
    const V = c.vocabSize;
    for (let start = 0; start < ids.length; start += BATCH_ROWS) {
      const n = Math.min(BATCH_ROWS, ids.length - start);
      const x = await this.layersForward(ids.subarray(start, start + n), cache, signal);
      const from = Math.max(0, fromRow - start);
      if (from >= n) continue;
      const f32 = new Float32Array(this.memory.buffer);
      const xn = f32.subarray(this.scratch.xn / 4, this.scratch.xn / 4 + n * D);
      rmsNorm(x, this.finalNorm, n, D, c.rmsNormEps, xn);
      const logits = f32.subarray(this.scratch.logits / 4, this.scratch.logits / 4 + LOGIT_ROWS * V);
      for (let r = from - (from % ROW_TILE); r < n; r += LOGIT_ROWS) {
        const rows = Math.min(LOGIT_ROWS, n - r);
        this.multiply(this.lmHead, this.scratch.xn + r * D * 4, this.scratch.logits, alignUp(rows, ROW_TILE));
        take(start + r, logits, rows);
      }
    }
  }

  /** The decoder layers over n ≤ BATCH_ROWS new tokens: the residual stream [n, hidden] after the last layer. */
  private async layersForward(ids: Int32Array, cache: KvCache, signal: AbortSignal | undefined): Promise<Float32Array> {
    const c = this.config;
    const n = ids.length;
    const nPad = alignUp(n, ROW_TILE);
    const D = c.hiddenSize;
    const I = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const past = cache.rows;
    const s = this.scratch;
    const f32 = new Float32Array(this.memory.buffer);
    const view = (at: number, width: number) => f32.subarray(at / 4, at / 4 + n * width);
    const xn = view(s.xn, D);
    const [q, k, v, attn, proj] = [view(s.q, qDim), view(s.k, kvDim), view(s.v, kvDim), view(s.attn, qDim), view(s.proj, D)];
    const mm = (m: Matrix, x: number, y: number) => this.multiply(m, x, y, nPad);

    const x = this.embedRows(ids);
    for (let l = 0; l < c.numLayers; l++) {
      throwIfAborted(signal);
      const L = this.layers[l];
      rmsNorm(x, L.inputNorm, n, D, c.rmsNormEps, xn);
      mm(L.q, s.xn, s.q);
      mm(L.k, s.xn, s.k);
      mm(L.v, s.xn, s.v);
      if (L.qBias) addBias(q, L.qBias, n);
      if (L.kBias) addBias(k, L.kBias, n);
      if (L.vBias) addBias(v, L.vBias, n);
      if (L.qNorm) rmsNorm(q, L.qNorm, n * c.numHeads, c.headDim, c.rmsNormEps, q);
      if (L.kNorm) rmsNorm(k, L.kNorm, n * c.numKvHeads, c.headDim, c.rmsNormEps, k);
      rope(q, n, c.numHeads, c.headDim, this.invFreq, past);
      rope(k, n, c.numKvHeads, c.headDim, this.invFreq, past);
      cache.append(l, k, v, n);
      this.attention(q, cache.k[l], cache.v[l], n, past, attn);
      mm(L.o, s.attn, s.proj);
      addInPlace(x, proj);

      rmsNorm(x, L.postNorm, n, D, c.rmsNormEps, xn);
      mm(L.gate, s.xn, s.gate);
      mm(L.up, s.xn, s.up);
      this.kernels.elementwise('swiglu', [s.gate, s.up, s.gate], n * I, MIN_LOOP_PER_THREAD);
      mm(L.down, s.gate, s.proj);
      addInPlace(x, proj);
      await yieldToEventLoop();
    }
    cache.commit(n);
    throwIfAborted(signal);
    return x;
  }

  /**
   * Causal grouped-query attention as the reference's causalAttention computes it ([n, heads, headDim] out
   * of q [n, heads, headDim] and the cache's [past + n, kvHeads, headDim] keys and values), with its two
   * products, QKᵀ and PV, on the matmul kernel and its threads, one query head at a time; the softmax in
   * double on this thread.
   */
  private attention(q: Float32Array, keys: Float32Array, values: Float32Array, n: number, past: number, out: Float32Array): void {
    const c = this.config;
    const d = c.headDim;
    const H = c.numHeads;
    const KV = c.numKvHeads;
    const group = H / KV;
    const T = past + n;
    const T8 = alignUp(T, K_STEP);
    const nPad = alignUp(n, ROW_TILE);
    const s = this.scratch;
    const f32 = new Float32Array(this.memory.buffer);
    const at = (byte: number, length: number) => f32.subarray(byte / 4, byte / 4 + length);
    const [Q, K, VT, O] = [at(s.attQ, nPad * d), at(s.attK, T * d), at(s.attVT, d * T8), at(s.attO, nPad * d)];
    const geometry = new DataView(this.memory.buffer, s.attGeometry, 16);
    geometry.setInt32(0, T, true);
    geometry.setInt32(4, T8, true);
    geometry.setInt32(8, past, true);
    geometry.setFloat32(12, 1 / Math.sqrt(d), true);
    // Rows per thread so that a thread's share is worth waking it for (each row has past + r + 1 scores).
    const rowsPerThread = Math.max(1, Math.ceil(MIN_SOFTMAX_PER_THREAD / (past + n / 2 + 1)));
    for (let g = 0; g < KV; g++) {
      for (let t = 0; t < T; t++) K.set(keys.subarray((t * KV + g) * d, (t * KV + g + 1) * d), t * d);
      VT.fill(0);
      for (let t = 0; t < T; t++) {
        const vo = (t * KV + g) * d;
        for (let i = 0; i < d; i++) VT[i * T8 + t] = values[vo + i];
      }
      for (let h = g * group; h < (g + 1) * group; h++) {
        for (let r = 0; r < n; r++) Q.set(q.subarray((r * H + h) * d, (r * H + h + 1) * d), r * d);
        this.kernels.matmul('F32', s.attQ, s.attK, s.attS, nPad, d, T);
        this.kernels.elementwise('softmax_rows', [s.attS, s.attP, s.attGeometry], n, rowsPerThread);
        this.kernels.matmul('F32', s.attP, s.attVT, s.attO, nPad, T8, d);
        for (let r = 0; r < n; r++) out.set(O.subarray(r * d, (r + 1) * d), (r * H + h) * d);
      }
    }
  }

  /** Rows of the embedding table for `ids`, decoded to f32: [ids.length, hidden]. */
  private embedRows(ids: Int32Array): Float32Array {
    const D = this.config.hiddenSize;
    const e = this.embed;
    const rowBytes = D * DTYPE_BYTES[e.dtype];
    const out = new Float32Array(ids.length * D);
    const table = this.matrixBytes(e);
    for (let r = 0; r < ids.length; r++) decodeToF32(e.dtype, table.subarray(ids[r] * rowBytes, (ids[r] + 1) * rowBytes), out.subarray(r * D));
    return out;
  }
}

/** Every weight matrix once (a tied output matrix is the embedding). */
function allMatrices(layers: readonly Pick<Layer, 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down'>[], embed: Matrix, lmHead: Matrix): Matrix[] {
  const all = layers.flatMap((L) => [L.q, L.k, L.v, L.o, L.gate, L.up, L.down]);
  all.push(embed);
  if (lmHead !== embed) all.push(lmHead);
  return all;
}


/** The kernel widens F16 by its bits and reads Inf/NaN as large numbers: such weights are refused. */
function refuseF16NonFinite(bytes: Uint8Array, name: string, tensor: string): void {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  for (let i = 0; i < halves.length; i++) {
    if ((halves[i] & 0x7c00) === 0x7c00) throw new InputError(`${name}: tensor ${tensor} holds Inf or NaN (F16 element ${i}); the model cannot be evaluated`);
  }
}

async function readVectors(c: ModelConfig, source: WeightSource, signal: AbortSignal | undefined): Promise<Vectors> {
  const read = (n: string) => source.readF32(n, signal);
  const layers: Vectors['layers'] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const n = layerTensorNames(l);
    layers.push({
      inputNorm: await read(n.inputNorm),
      qBias: c.attentionBias ? await read(n.qBias) : null,
      kBias: c.attentionBias ? await read(n.kBias) : null,
      vBias: c.attentionBias ? await read(n.vBias) : null,
      qNorm: c.qkNorm ? await read(n.qNorm) : null,
      kNorm: c.qkNorm ? await read(n.kNorm) : null,
      postNorm: await read(n.postNorm),
    });
  }
  return { layers, finalNorm: await read(FINAL_NORM) };
}
