/**
 * Whole-tensor statistics on the GPU: drives shaders/merge/stats.wgsl (specialised per input shape by
 * src/merge/gpu/statsShader.ts). The definitions, and the CPU twin the tests hold this to bit for bit, are in
 * src/merge/program/tensorStats.ts.
 *
 * A tensor is read from its TensorChunkSource a chunk at a time (chunks of whole 512-element groups, at
 * most one GPU binding each), so tensors larger than a GPU buffer work. A selection runs three radix
 * passes (and a fourth when the cut falls inside a run of equal magnitudes): when the tensor's chunks
 * fit in `residentBytes` they are uploaded once and stay on the GPU for all passes, otherwise they are
 * read and uploaded again for each pass. The histogram of a pass accumulates over all chunks on the GPU
 * and is read back once; sums come back as one f32 (sum, compensation) pair per group and term, added
 * in f64 here.
 */
import type { KernelDtype } from '../kernel';
import { KERNEL_DTYPE_BYTES } from '../kernel';
import {
  chunkSelectionKeys,
  groupValue,
  radixSelect,
  statsChunkElements,
  STATS_GROUP,
  STATS_LANES,
  tieGroup,
  type MagnitudeSelection,
  type SelectionKey,
  type SelectionOrder,
  type TensorChunkSource,
  type TensorSums,
  type VectorsSpec,
  addTerm,
  CHAIN_VECTOR,
} from '../program/tensorStats';
import { chainStage } from '../program/multislerpChain';
import type { Lines } from '../program/lineSums';
import type { DellaKeepsSpec } from '../program/gpuElements';
import { dellaKeepsOnGpu, type StatsGpuParts } from './dellaRanksGpu';
import { prefetchingChunks } from './chunkPrefetch';
import { CancelledError } from '../../errors';
import type { GpuBufferPool } from '../../gpu/bufferPool';
import type { SoupDevice } from '../../gpu/device';
import { GPUExecutionError } from '../../gpu/errors';
import type { PipelineCache } from '../../gpu/pipelineCache';
import { blocksPerElementBlock, SOUP_BLOCK_ELEMENTS } from './soupShader';
import { STATS_KEEP_BITS_BINDING, statsShaderCode, statsShapeKey, statsTerms, statsVectors, type StatsShape } from './statsShader';
import { MODEL_WORDS, putKeep } from './taskArithmeticKernel';
import { writePadded } from '../../model/gpu/residentWeights';

export interface GpuTensorStatsOptions {
  /** Elements per chunk (rounded down to whole groups; default: 8 Mi, or what one binding holds). */
  chunkElements?: number;
  /** A selection keeps a tensor's chunks on the GPU between passes when they total at most this (default 512 MiB). */
  residentBytes?: number;
  /** The largest binding used, when less than the device allows (tests of what does not fit one). */
  maxBindingBytes?: number;
}

export interface GpuTensorStats {
  /** Σ dᵢ·dⱼ and Σ|dᵢ| (see tensorStats.ts), dᵢ = xᵢ − base or xᵢ. */
  sums(source: TensorChunkSource, spec: VectorsSpec, signal?: AbortSignal): Promise<TensorSums>;
  /** The first `count` elements of input `which` (minus `base`) by magnitude, ties by index. */
  selectByMagnitude(source: TensorChunkSource, which: number, base: number | undefined, order: SelectionOrder, count: number, signal?: AbortSignal): Promise<MagnitudeSelection>;
  /** The first `count` elements in the order of `key` (magnitudes, or sce's variances), ties by index. */
  selectByKey(source: TensorChunkSource, key: SelectionKey, order: SelectionOrder, count: number, signal?: AbortSignal): Promise<MagnitudeSelection>;
  /** How many elements have the key `value` (sce: zero variances). */
  countKeys(source: TensorChunkSource, key: SelectionKey, value: number, signal?: AbortSignal): Promise<number>;
  /**
   * The sums of `spec` (no chain, no keeps) per row or column (lineSums.ts): values[l·terms + t] for the
   * terms of tensorStats.ts sumTerms; the vectors of line l divided by lineDivisors[l·m + k] when given.
   * Where 512 rows of the matrix (a column group) do not fit one GPU binding (e.g. 512 rows of 3 BF16
   * models × 43,690 columns in 128 MiB), slabs of 512 rows by fewer columns, read row by row. Undefined
   * where not even 512 elements fit: the CPU's then.
   */
  lineSums(source: TensorChunkSource, lines: Lines, spec: VectorsSpec, lineDivisors?: Float32Array, signal?: AbortSignal): Promise<Float64Array | undefined>;
  /** DELLA's keep masks, one bit per element per model (dellaRanksGpu.ts); undefined where a row does not fit one chunk. */
  dellaKeeps(source: TensorChunkSource, spec: DellaKeepsSpec, signal?: AbortSignal): Promise<Uint32Array[] | undefined>;
}

/**
 * One dispatch of lineSums: elements [start, start + count) of the tensor hold `lineCount` lines' parts of
 * `lineLength` elements — or, with `slab`, `slab.rows` rows of the matrix from `start` on, of which the
 * `lineCount` columns from `firstLine` are read row by row and packed (a column group of 512 rows wider
 * than one binding).
 */
export interface LineChunk {
  start: number;
  count: number;
  lineCount: number;
  lineLength: number;
  firstLine: number;
  slab?: { rows: number; stride: number };
}

/** The chunks of lineSums, at most `step` elements each (a multiple of STATS_GROUP), in the order each line's groups come. */
export function lineChunks(lines: Lines, step: number): LineChunk[] | undefined {
  const chunks: LineChunk[] = [];
  if (lines.grouping === 'row') {
    const { length, count } = lines;
    if (length <= step) {
      const per = Math.floor(step / length);
      for (let r = 0; r < count; r += per) {
        const n = Math.min(per, count - r);
        chunks.push({ start: r * length, count: n * length, lineCount: n, lineLength: length, firstLine: r });
      }
    } else {
      // A row longer than a chunk: its pieces start on group boundaries of the row.
      for (let r = 0; r < count; r++) {
        for (let at = 0; at < length; at += step) chunks.push({ start: r * length + at, count: Math.min(step, length - at), lineCount: 1, lineLength: Math.min(step, length - at), firstLine: r });
      }
    }
    return chunks;
  }
  // Columns: whole groups of 512 rows of the matrix, every column in each chunk.
  const stride = lines.count;
  const per = Math.floor(step / (stride * STATS_GROUP)) * STATS_GROUP;
  if (per === 0) {
    // 512 rows of every column are more than one chunk: slabs of 512 rows (fewer at the end) by as
    // many columns as fit, each column's groups still in row order.
    const columns = Math.floor(step / STATS_GROUP);
    if (columns === 0) return undefined;
    for (let k = 0; k < lines.length; k += STATS_GROUP) {
      const rows = Math.min(STATS_GROUP, lines.length - k);
      for (let c = 0; c < stride; c += columns) {
        const n = Math.min(columns, stride - c);
        chunks.push({ start: k * stride + c, count: rows * n, lineCount: n, lineLength: rows, firstLine: c, slab: { rows, stride } });
      }
    }
    return chunks;
  }
  for (let k = 0; k < lines.length; k += per) {
    const n = Math.min(per, lines.length - k);
    chunks.push({ start: k * stride, count: n * stride, lineCount: stride, lineLength: n, firstLine: 0 });
  }
  return chunks;
}

const BLOCK_BYTES = 16;
const PARAMS_BYTES = 64;
const MAX_DIGITS = 2048;

type Entry = 'sums' | 'lineSums' | 'histogram' | 'ties';

interface Uploaded {
  buffer: GPUBuffer;
  start: number;
  count: number;
  blocks: number;
  bytes: number;
}

/** The packed elements of a column slab (LineChunk.slab): each of its rows' columns read from `source`, one row after another. */
function slabSource(source: TensorChunkSource, lc: LineChunk): TensorChunkSource {
  const { rows, stride } = lc.slab!;
  const n = lc.lineCount;
  return {
    elementCount: lc.count,
    dtypes: source.dtypes,
    async read(_start, _count, signal) {
      const parts = await Promise.all(Array.from({ length: rows }, (_, r) => source.read(lc.start + r * stride, n, signal)));
      return source.dtypes.map((dtype, i) => {
        const width = n * KERNEL_DTYPE_BYTES[dtype];
        const packed = new Uint8Array(rows * width);
        parts.forEach((part, r) => packed.set(part[i], r * width));
        return packed;
      });
    },
  };
}

export function createGpuTensorStats(ctx: SoupDevice, pool: GpuBufferPool, pipelines: PipelineCache, opts: GpuTensorStatsOptions = {}): GpuTensorStats {
  const { device } = ctx;
  const limits = device.limits;
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, opts.maxBindingBytes ?? Infinity);
  const maxX = limits.maxComputeWorkgroupsPerDimension;
  const residentBytes = opts.residentBytes ?? 512 * 1024 * 1024;

  /** Whole groups, at most one binding of the widest inputs. */
  /** Elements per chunk: the usual size (or `atLeast`, when larger), within one binding. */
  function chunkElementsFor(dtypes: readonly KernelDtype[], atLeast = 0): number {
    const slots = dtypes.reduce((s, d) => s + blocksPerElementBlock(d), 0);
    const fits = Math.floor(maxBinding / (slots * BLOCK_BYTES)) * SOUP_BLOCK_ELEMENTS;
    return statsChunkElements(Math.min(Math.max(opts.chunkElements ?? 8 * 1024 * 1024, atLeast), fits));
  }

  function pipeline(shape: StatsShape, entry: Entry): GPUComputePipeline {
    return pipelines.get(`stats.wgsl ${statsShapeKey(shape)}`, () => statsShaderCode(shape), {}, entry);
  }

  function check(signal: AbortSignal | undefined): void {
    const lost = ctx.lostError();
    if (lost) throw lost;
    if (signal?.aborted) throw new CancelledError();
  }

  async function upload(source: TensorChunkSource, start: number, count: number, signal: AbortSignal | undefined): Promise<Uploaded> {
    const chunk = await source.read(start, count, signal);
    check(signal);
    const blocks = Math.ceil(count / SOUP_BLOCK_ELEMENTS);
    const slots = source.dtypes.reduce((s, d) => s + blocksPerElementBlock(d), 0);
    const bytes = slots * blocks * BLOCK_BYTES;
    const buffer = pool.acquire(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'stats inputs');
    let at = 0;
    source.dtypes.forEach((dtype, i) => {
      const data = chunk[i];
      const expected = count * KERNEL_DTYPE_BYTES[dtype];
      if (data.byteLength !== expected) throw new GPUExecutionError(`tensor statistics: input ${i} gave ${data.byteLength} bytes for ${count} ${dtype} elements`);
      writePadded(device, buffer, at, data);
      at += blocksPerElementBlock(dtype) * blocks * BLOCK_BYTES;
    });
    return { buffer, start, count, blocks, bytes };
  }

  function grid(blocks: number): { groups: number; gx: number; gy: number } {
    const groups = Math.ceil(blocks / STATS_LANES);
    const gx = Math.min(groups, maxX);
    return { groups, gx, gy: Math.ceil(groups / gx) };
  }

  function paramsFor(chunk: Uploaded, gx: number, select: { prefix: number; prefixMask: number; shift: number; digitMask: number }): Uint8Array<ArrayBuffer> {
    const p = new Uint32Array(PARAMS_BYTES / 4);
    p.set([chunk.blocks, 0, gx * STATS_LANES, chunk.count, select.prefix, select.prefixMask, select.shift, select.digitMask, chunk.start >>> 0, Math.floor(chunk.start / 4294967296) >>> 0]);
    return new Uint8Array(p.buffer as ArrayBuffer);
  }

  /** Encodes one dispatch of `entry` over `chunk`; `counts` and `partials` are the outputs it uses. */
  function dispatch(enc: GPUCommandEncoder, shape: StatsShape, entry: Entry, chunk: Uploaded, params: Uint8Array<ArrayBuffer>, output: { binding: 2 | 3; buffer: GPUBuffer; size: number }, divisors?: GPUBuffer, keeps?: GPUBuffer, workgroups?: { gx: number; gy: number }, keepBits?: GPUBuffer): GPUBuffer {
    const { gx, gy } = workgroups ?? grid(chunk.blocks);
    const meta = pool.acquire(PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'stats params');
    device.queue.writeBuffer(meta, 0, params);
    const p = pipeline(shape, entry);
    const bindGroup = device.createBindGroup({
      layout: p.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: meta, size: PARAMS_BYTES } },
        { binding: 1, resource: { buffer: chunk.buffer, size: chunk.bytes } },
        { binding: output.binding, resource: { buffer: output.buffer, size: output.size } },
        ...(divisors ? [{ binding: 4, resource: { buffer: divisors } }] : []),
        ...(keeps ? [{ binding: 5, resource: { buffer: keeps } }] : []),
        ...(keepBits ? [{ binding: STATS_KEEP_BITS_BINDING, resource: { buffer: keepBits } }] : []),
      ],
    });
    const pass = enc.beginComputePass({ label: `stats ${entry}` });
    pass.setPipeline(p);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    return meta;
  }

  /**
   * The (sum, compensation) pairs of a sums dispatch: `size` bytes of partials, written by the
   * dispatch `encode` records into the buffer it is given, read back as f32.
   */
  async function readPartials(what: string, size: number, encode: (enc: GPUCommandEncoder, partials: { binding: 3; buffer: GPUBuffer; size: number }) => GPUBuffer[]): Promise<Float32Array> {
    const partials = pool.acquire(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'stats partials');
    try {
      return new Float32Array(await submitAndRead(what, (enc) => encode(enc, { binding: 3, buffer: partials, size }), partials, size));
    } finally {
      pool.release(partials);
    }
  }

  /** Runs `encode` in an error scope, submits, and reads `size` bytes of `from` back. */
  async function submitAndRead(what: string, encode: (enc: GPUCommandEncoder) => GPUBuffer[], from: GPUBuffer, size: number): Promise<ArrayBuffer> {
    const stage = pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'stats staging');
    let temporaries: GPUBuffer[] = [];
    let healthy = false;
    try {
      const submitted = ctx.scoped(what, () => {
        const enc = device.createCommandEncoder({ label: what });
        temporaries = encode(enc);
        enc.copyBufferToBuffer(from, 0, stage, 0, size);
        device.queue.submit([enc.finish()]);
      });
      // The map is asked for with the submission (one round trip to the device, not two); the error scope's verdict comes first.
      submitted.errors.catch(() => undefined);
      const mapped = stage.mapAsync(GPUMapMode.READ, 0, size);
      mapped.catch(() => undefined);
      await Promise.race([submitted.errors, ctx.lost]);
      await Promise.race([mapped, ctx.lost]);
      const copy = stage.getMappedRange(0, size).slice(0);
      stage.unmap();
      healthy = true;
      return copy;
    } finally {
      for (const t of temporaries) pool.release(t);
      if (healthy) pool.release(stage);
      else stage.destroy();
    }
  }

  const NO_SELECT = { prefix: 0, prefixMask: 0, shift: 0, digitMask: 0 };
  const parts: StatsGpuParts = { device, pool, pipelines, maxBinding, maxWorkgroupsPerDimension: maxX, chunkElements: (dtypes) => chunkElementsFor(dtypes), upload, submitAndRead, check };

  return {
    async sums(source, spec, signal) {
      const { chain, keeps } = spec;
      const divided = chain !== undefined || (spec.divisors?.some((d) => Math.fround(d) !== 1) ?? false);
      const shape: StatsShape = {
        inputDtypes: source.dtypes,
        base: spec.base,
        selected: 0,
        divided,
        roundedSquares: spec.roundedSquares,
        chain: chain ? chainStage(chain) : undefined,
        keeps: keeps?.map((k) => k.kind),
        varianceKeep: spec.varianceKeep !== undefined,
      };
      const inputs = statsVectors(shape);
      const vectors = chain ? [...inputs, CHAIN_VECTOR] : inputs;
      const m = vectors.length;
      if (keeps && keeps.length !== m) throw new RangeError(`tensor sums: ${keeps.length} keep masks for ${m} vectors`);
      if (spec.varianceKeep && (spec.base === undefined || divided)) throw new RangeError('tensor sums: a variance selection needs a base and plain task vectors');
      const temporaries: GPUBuffer[] = [];
      const storage = (values: ArrayBufferView<ArrayBuffer>, label: string): GPUBuffer => {
        const buffer = pool.acquire(Math.max(16, values.byteLength), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label);
        temporaries.push(buffer);
        device.queue.writeBuffer(buffer, 0, values);
        return buffer;
      };
      let divisors: GPUBuffer | undefined;
      let keepModels: GPUBuffer | undefined;
      let keepBits: GPUBuffer | undefined;
      if (divided) {
        const n = inputs.length;
        const values = new Float32Array(chain ? 3 * n + 1 : n);
        inputs.forEach((_, k) => (values[k] = spec.divisors?.[k] ?? 1));
        if (chain) {
          values.set(chain.weights, n);
          values[2 * n] = chain.meanNorm ?? 1;
          values.set(chain.projections ?? [], 2 * n + 1);
        }
        divisors = storage(values, 'stats vector scalars');
      }
      if (keeps) {
        const words = new Uint32Array(MODEL_WORDS * m);
        // DELLA's masks: every masked vector's words over the whole tensor, one after another.
        const masks = keeps.flatMap((keep) => (keep.kind === 'bits' ? [keep.words] : []));
        let at = 0;
        keeps.forEach((keep, k) => {
          putKeep(words, MODEL_WORDS * k, keep, { word: at, firstBit: 0 });
          if (keep.kind === 'bits') at += keep.words.length;
        });
        keepModels = storage(words, 'stats keep masks');
        if (masks.length > 0) {
          const all = new Uint32Array(at);
          masks.reduce((from, w) => (all.set(w, from), from + w.length), 0);
          keepBits = storage(all, 'stats keep mask words');
        }
      }
      if (spec.varianceKeep) {
        const words = new Uint32Array(MODEL_WORDS);
        putKeep(words, 0, { kind: 'largest', below: spec.varianceKeep });
        keepModels = storage(words, 'stats variance selection');
      }
      const terms = statsTerms(shape);
      const ahead = prefetchingChunks(source);
      const sums: TensorSums = { vectors, dots: new Float64Array(m * m), l1: new Float64Array(m), keptL1: new Float64Array(m) };
      try {
        const step = chunkElementsFor(source.dtypes);
        for (let start = 0; start < source.elementCount; start += step) {
          const chunk = await upload(ahead, start, Math.min(step, source.elementCount - start), signal);
          try {
            const { groups, gx, gy } = grid(chunk.blocks);
            const size = gx * gy * terms.length * 8; // a (sum, compensation) pair per group and term
            const out = await readPartials('tensor sums', size, (enc, partials) => [dispatch(enc, shape, 'sums', chunk, paramsFor(chunk, gx, NO_SELECT), partials, divisors, keepModels, undefined, keepBits)]);
            for (let g = 0; g < groups; g++) {
              terms.forEach((term, t) => {
                const at = 2 * (g * terms.length + t);
                addTerm(sums, term, groupValue(out[at], out[at + 1]));
              });
            }
          } finally {
            pool.release(chunk.buffer);
          }
          check(signal);
        }
      } finally {
        for (const t of temporaries) pool.release(t);
      }
      return sums;
    },

    async lineSums(source, lines, spec, lineDivisors, signal) {
      if (spec.chain || spec.keeps || spec.varianceKeep) throw new RangeError('line sums: a chain, keep masks or a variance selection are whole-tensor sums only');
      // Column sums take 512 whole rows at a time (a column's blocked sums run down the rows): where
      // one binding holds them, such a chunk is larger than usual (8 Mi elements are 512 rows of 16,384
      // columns; Qwen2.5-7B's down_proj has 18,944, a 70B Llama's 28,672).
      const chunks = lineChunks(lines, chunkElementsFor(source.dtypes, lines.grouping === 'column' ? STATS_GROUP * lines.count : 0));
      if (!chunks) return undefined;
      const shape: StatsShape = { inputDtypes: source.dtypes, base: spec.base, selected: 0, divided: lineDivisors !== undefined, roundedSquares: spec.roundedSquares };
      const m = statsVectors(shape).length;
      if (lineDivisors && lineDivisors.length !== lines.count * m) throw new RangeError(`line sums: ${lineDivisors.length} divisors for ${lines.count} lines of ${m} vectors`);
      const terms = statsTerms(shape);
      const values = new Float64Array(lines.count * terms.length);
      const ahead = prefetchingChunks(source, chunks.filter((lc) => !lc.slab));
      let divisors: GPUBuffer | undefined;
      if (lineDivisors) {
        divisors = pool.acquire(Math.max(16, lineDivisors.byteLength), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'stats line divisors');
        device.queue.writeBuffer(divisors, 0, lineDivisors as Float32Array<ArrayBuffer>);
      }
      try {
        for (const lc of chunks) {
          const chunk = lc.slab ? await upload(slabSource(source, lc), 0, lc.count, signal) : await upload(ahead, lc.start, lc.count, signal);
          // A slab's columns are packed: column l's element k at l + k·lineCount.
          const [lineStride, elementStride] = lc.slab ? [1, lc.lineCount] : [lines.lineStride, lines.elementStride];
          try {
            const groupsPerLine = Math.ceil(lc.lineLength / STATS_GROUP);
            const groups = lc.lineCount * groupsPerLine;
            const gx = Math.min(groups, maxX);
            const gy = Math.ceil(groups / gx);
            const p = new Uint32Array(PARAMS_BYTES / 4);
            p.set([chunk.blocks, 0, gx * STATS_LANES, lc.lineCount, 0, 0, 0, 0, chunk.start >>> 0, Math.floor(chunk.start / 4294967296) >>> 0, groupsPerLine, lc.lineLength, lineStride, elementStride, lc.firstLine]);
            const size = gx * gy * terms.length * 8;
            const params = new Uint8Array(p.buffer as ArrayBuffer);
            const out = await readPartials('line sums', size, (enc, partials) => [dispatch(enc, shape, 'lineSums', chunk, params, partials, divisors, undefined, { gx, gy })]);
            // Each line's groups in order: the f64 sum in group order.
            for (let g = 0; g < groups; g++) {
              const line = lc.firstLine + Math.floor(g / groupsPerLine);
              for (let t = 0; t < terms.length; t++) values[line * terms.length + t] += groupValue(out[2 * (g * terms.length + t)], out[2 * (g * terms.length + t) + 1]);
            }
          } finally {
            pool.release(chunk.buffer);
          }
          check(signal);
        }
      } finally {
        if (divisors) pool.release(divisors);
      }
      return values;
    },

    selectByMagnitude(source, which, base, order, count, signal) {
      return selectByKey(source, { kind: 'magnitude', input: which, base }, order, count, signal);
    },

    selectByKey,

    dellaKeeps: (source, spec, signal) => dellaKeepsOnGpu(parts, source, spec, signal),

    async countKeys(source, key, value, signal) {
      const shape = shapeOfKey(source, key);
      const step = chunkElementsFor(source.dtypes);
      const ahead = prefetchingChunks(source);
      let total = 0;
      for (let start = 0; start < source.elementCount; start += step) {
        const chunk = await upload(ahead, start, Math.min(step, source.elementCount - start), signal);
        try {
          total += (await tieCounts(shape, chunk, value)).reduce((s, c) => s + c, 0);
        } finally {
          pool.release(chunk.buffer);
        }
        check(signal);
      }
      return total;
    },
  };

  /** The statistics kernel's shape for the keys of `key`. */
  function shapeOfKey(source: TensorChunkSource, key: SelectionKey): StatsShape {
    return key.kind === 'magnitude' ? { inputDtypes: source.dtypes, base: key.base, selected: key.input } : { inputDtypes: source.dtypes, base: key.base, selected: 0, variance: true };
  }

  /** Per group of `chunk`, how many of its elements have the key `value`. */
  async function tieCounts(shape: StatsShape, chunk: Uploaded, value: number): Promise<Uint32Array> {
    const { groups, gx, gy } = grid(chunk.blocks);
    const size = gx * gy * 4;
    const counts = pool.acquire(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'stats ties');
    try {
      return new Uint32Array(await submitAndRead('selection ties', (enc) => [dispatch(enc, shape, 'ties', chunk, paramsFor(chunk, gx, { ...NO_SELECT, prefix: value }), { binding: 2, buffer: counts, size })], counts, size)).subarray(0, groups);
    } finally {
      pool.release(counts);
    }
  }

  async function selectByKey(source: TensorChunkSource, key: SelectionKey, order: SelectionOrder, count: number, signal?: AbortSignal): Promise<MagnitudeSelection> {
    const n = source.elementCount;
    if (!Number.isInteger(count) || count < 0 || count > n) throw new RangeError(`selectByMagnitude: cannot select ${count} of ${n} elements`);
    if (count === 0) return { order, count, threshold: 0, cut: 0, before: 0, equal: 0 };
    const shape = shapeOfKey(source, key);
    const step = chunkElementsFor(source.dtypes);
    const slots = source.dtypes.reduce((s, d) => s + blocksPerElementBlock(d), 0);
    const keep = Math.ceil(n / SOUP_BLOCK_ELEMENTS) * slots * BLOCK_BYTES <= residentBytes;
    const resident: Uploaded[] = [];
    // The passes' chunks read one ahead; the tie search's single groups straight from the source.
    const ahead = prefetchingChunks(source);
    /** Every chunk, uploaded now or kept from an earlier pass. */
    const eachChunk = async (visit: (chunk: Uploaded) => Promise<void>): Promise<void> => {
      let index = 0;
      for (let start = 0; start < n; start += step, index++) {
        const chunk = resident[index] ?? (await upload(ahead, start, Math.min(step, n - start), signal));
        if (keep) resident[index] = chunk;
        try {
          await visit(chunk);
        } finally {
          if (!keep) pool.release(chunk.buffer);
        }
        check(signal);
      }
    };
    try {
      const histogramOf = async (prefix: number, prefixMask: number, shift: number, bits: number): Promise<Uint32Array> => {
        const size = MAX_DIGITS * 4;
        const counts = pool.acquire(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'stats histogram');
        try {
          const select = { prefix, prefixMask, shift, digitMask: (1 << bits) - 1 };
          // Every chunk adds to one histogram; all but the last are submitted without a readback.
          const chunks: Uploaded[] = [];
          let cleared = false;
          await eachChunk(async (chunk) => {
            chunks.push(chunk);
            const last = chunk.start + chunk.count >= n;
            if (!last && keep) return; // resident: every chunk's pass in one submission, with the readback
            const encodeAll = (enc: GPUCommandEncoder): GPUBuffer[] => {
              if (!cleared) enc.clearBuffer(counts, 0, size);
              cleared = true;
              const metas = chunks.map((c) => dispatch(enc, shape, 'histogram', c, paramsFor(c, grid(c.blocks).gx, select), { binding: 2, buffer: counts, size }));
              chunks.length = 0;
              return metas;
            };
            if (last) {
              lastHistogram = new Uint32Array(await submitAndRead('magnitude histogram', encodeAll, counts, size));
            } else {
              // Streaming: submit this chunk's pass now; its buffer is released after the queue used it.
              const submitted = ctx.scoped('magnitude histogram', () => {
                const enc = device.createCommandEncoder();
                const metas = encodeAll(enc);
                device.queue.submit([enc.finish()]);
                return metas;
              });
              await Promise.race([submitted.errors, ctx.lost]);
              await Promise.race([device.queue.onSubmittedWorkDone(), ctx.lost]);
              for (const meta of submitted.value) pool.release(meta);
            }
          });
          const h = lastHistogram;
          lastHistogram = undefined;
          if (!h) throw new GPUExecutionError('magnitude histogram: no result');
          return h.subarray(0, 1 << bits);
        } finally {
          pool.release(counts);
        }
      };
      let lastHistogram: Uint32Array | undefined;
      const locateTie = async (threshold: number, q: number): Promise<number> => {
        let seen = 0;
        let cut = -1;
        await eachChunk(async (chunk) => {
          if (cut >= 0) return;
          const perGroup = await tieCounts(shape, chunk, threshold);
          const here = perGroup.reduce((s, c) => s + c, 0);
          if (seen + here < q) {
            seen += here;
            return;
          }
          // The group that holds the q-th tie: its 512 elements are read again and ranked here.
          const { group, within } = tieGroup(perGroup, q - seen);
          const start = chunk.start + group * STATS_GROUP;
          const c = Math.min(STATS_GROUP, n - start);
          const keys = chunkSelectionKeys(source, await source.read(start, c, signal), c, key);
          let k = 0;
          for (let e = 0; e < c && cut < 0; e++) if (keys[e] === threshold && ++k === within) cut = start + e + 1;
          // A GPU that flushed a subnormal difference to zero counts ties the CPU does not: cut after the group.
          if (cut < 0) cut = start + c;
        });
        if (cut < 0) throw new GPUExecutionError(`magnitude selection: tie ${q} of key ${threshold} not found`);
        return cut;
      };
      return await radixSelect(order, count, histogramOf, locateTie);
    } finally {
      for (const chunk of resident) pool.release(chunk.buffer);
    }
  }
}
