/**
 * LoRA-adapted rows on the GPU: drives shaders/merge/loraRows.wgsl, whose CPU twin is
 * src/formats/lora/loraRows.ts (mergeLoraRows, doraColumnNorms). A merge on the WebGPU backend binds
 * this computer to its adapted inputs (runRecipe), so each adapted tensor's W + s·B·A (or DoRA's form)
 * is a few dispatches per chunk instead of r multiply-adds per element on a CPU thread.
 *
 * The kernel works in float-floats and rounds once; DoRA's factors m / ‖·‖ are computed here in f64
 * from the kernel's float-float sums of squares and handed back as float-floats. Results are within
 * 1 ulp of the twin's (docs/lora.md). The kernel takes f32 values: factors or base rows that are not
 * exactly f32 (an F64 adapter or base) are computed by the twin.
 */
import loraRowsWgsl from '../../../shaders/merge/loraRows.wgsl?raw';
import { CancelledError } from '../../errors';
import { cpuLoraRows, storedShape, type LoraFactors, type LoraRowsComputer } from '../../formats/lora/loraRows';
import type { GpuBufferPool } from '../../gpu/bufferPool';
import type { SoupDevice } from '../../gpu/device';
import { DeviceLostError, GPUExecutionError } from '../../gpu/errors';
import type { PipelineCache } from '../../gpu/pipelineCache';

const WORKGROUP = 64;
const PARAMS_BYTES = 48;
/** Rows per dispatch: their float-float values (8 bytes an element) in at most this many bytes. */
const DEFAULT_BLOCK_BYTES = 64 << 20;

export interface GpuLoraRowsOptions {
  /** The largest float-float block of rows one dispatch holds (tests of blocks; default 64 MiB or the binding limit). */
  maxBlockBytes?: number;
}

type Entry = 'merged' | 'adapted' | 'squares' | 'scaled';
interface Bound {
  buffer: GPUBuffer;
  size: number;
}

/** x as hi + lo, two f32 values (hi = x rounded; lo = the rest rounded). */
export function splitToF32Pair(x: number): [number, number] {
  const hi = Math.fround(x);
  return [hi, Number.isFinite(hi) ? Math.fround(x - hi) : 0];
}

/** The values as f32 when every one is exactly an f32, else undefined. */
function exactF32(values: ArrayLike<number>): Float32Array | undefined {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  if (!(values instanceof Float32Array)) {
    for (let i = 0; i < f.length; i++) if (f[i] !== values[i] && !(Number.isNaN(f[i]) && Number.isNaN(values[i]))) return undefined;
  }
  return f;
}

export function createGpuLoraRows(ctx: SoupDevice, pool: GpuBufferPool, pipelines: PipelineCache, opts: GpuLoraRowsOptions = {}): LoraRowsComputer {
  const { device } = ctx;
  const limits = device.limits;
  const maxBlockBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, opts.maxBlockBytes ?? DEFAULT_BLOCK_BYTES);
  const maxX = limits.maxComputeWorkgroupsPerDimension;
  /** A and B as f32 per factors object (undefined: not exactly f32, the twin computes). */
  const f32Factors = new WeakMap<LoraFactors, { a: Float32Array; b: Float32Array } | undefined>();

  const pipeline = (entry: Entry) => pipelines.get('loraRows.wgsl', loraRowsWgsl, {}, entry);

  function factorsOf(f: LoraFactors): { a: Float32Array; b: Float32Array } | undefined {
    if (!f32Factors.has(f)) {
      const a = exactF32(f.a);
      const b = exactF32(f.b);
      f32Factors.set(f, a && b ? { a, b } : undefined);
    }
    return f32Factors.get(f);
  }

  /** The rows one dispatch holds (whole rows: a row's norm needs all of it). */
  function blockRowsOf(cols: number): number {
    const rows = Math.floor(maxBlockBytes / (8 * cols));
    if (rows < 1) throw new GPUExecutionError(`a LoRA-adapted row of ${cols} elements does not fit one GPU binding of ${maxBlockBytes} bytes`);
    return rows;
  }

  async function settled<T>(p: Promise<T>, what: string): Promise<T> {
    p.catch(() => undefined);
    try {
      return await Promise.race([p, ctx.lost]);
    } catch (e) {
      if (e instanceof DeviceLostError || e instanceof GPUExecutionError || e instanceof CancelledError) throw e;
      throw new GPUExecutionError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * One block of rows through the kernel: `adapted` (or `merged`) then, for DoRA, `squares` and
   * `scaled`. `lineFactors` turns the squares read back into the float-float factors (or gives the
   * factors straight away: fan_in_fan_out's column factors are known before the block).
   */
  async function runBlock(
    f: LoraFactors,
    factors: { a: Float32Array; b: Float32Array },
    w: Float32Array,
    row0: number,
    rows: number,
    mode: { kind: 'merged' } | { kind: 'dora'; factors: Float32Array } | { kind: 'dora-rows'; factors: (squares: Float32Array) => Float32Array } | { kind: 'squares' },
  ): Promise<Float32Array> {
    const [, cols] = storedShape(f);
    const elements = rows * cols;
    const lineCount = f.fanInFanOut ? cols : rows;
    const held: GPUBuffer[] = [];
    /** A pooled buffer (perhaps larger) and the bytes of it in use, which is what gets bound. */
    const take = (bytes: number, usage: GPUBufferUsageFlags, label: string): Bound => {
      const size = Math.max(16, Math.ceil(bytes / 4) * 4);
      const buffer = pool.acquire(size, usage, label);
      held.push(buffer);
      return { buffer, size };
    };
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const grid = (n: number) => {
      const groups = Math.max(1, Math.ceil(n / WORKGROUP));
      const gx = Math.min(groups, maxX);
      return { gx, gy: Math.ceil(groups / gx) };
    };
    const paramsFor = (n: number) => {
      const buf = new ArrayBuffer(PARAMS_BYTES);
      const u = new Uint32Array(buf);
      const fl = new Float32Array(buf);
      const [sHi, sLo] = splitToF32Pair(f.scale);
      u.set([rows, cols, f.r, row0, f.inFeatures, f.fanInFanOut ? 1 : 0, 0, grid(n).gx * WORKGROUP]);
      fl[8] = sHi;
      fl[9] = sLo;
      u[10] = lineCount;
      return new Uint8Array(buf);
    };
    const binding = (buffers: Partial<Record<number, Bound>>, entry: Entry) => {
      const p = pipeline(entry);
      return {
        p,
        group: device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: Object.entries(buffers).map(([k, b]) => ({ binding: Number(k), resource: { buffer: b!.buffer, size: b!.size } })),
        }),
      };
    };
    const dispatch = (enc: GPUCommandEncoder, entry: Entry, buffers: Partial<Record<number, Bound>>, n: number) => {
      const { p, group } = binding(buffers, entry);
      const pass = enc.beginComputePass({ label: `loraRows ${entry}` });
      pass.setPipeline(p);
      pass.setBindGroup(0, group);
      const { gx, gy } = grid(n);
      pass.dispatchWorkgroups(gx, gy);
      pass.end();
    };
    const readBack = async (src: Bound, bytes: number, enc: GPUCommandEncoder, what: string): Promise<Float32Array> => {
      const stage = pool.acquire(Math.max(16, bytes), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'loraRows staging');
      let healthy = false;
      try {
        enc.copyBufferToBuffer(src.buffer, 0, stage, 0, bytes);
        const submitted = ctx.scoped(what, () => device.queue.submit([enc.finish()]));
        await settled(submitted.errors, what);
        await settled(stage.mapAsync(GPUMapMode.READ, 0, bytes), `${what}: reading back`);
        const values = new Float32Array(stage.getMappedRange(0, bytes).slice(0));
        stage.unmap();
        healthy = true;
        return values;
      } finally {
        if (healthy) pool.release(stage);
        else stage.destroy();
      }
    };

    try {
      const q = device.queue;
      const uniform = (n: number) => {
        const b = take(PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'loraRows params');
        q.writeBuffer(b.buffer, 0, paramsFor(n));
        return b;
      };
      const upload = (data: Float32Array, label: string) => {
        const b = take(data.byteLength, STORAGE, label);
        q.writeBuffer(b.buffer, 0, data as Float32Array<ArrayBuffer>);
        return b;
      };
      const elementParams = uniform(elements);
      const inputs = { 0: elementParams, 1: upload(w, 'loraRows base rows'), 2: upload(factors.a, 'loraRows A'), 3: upload(factors.b, 'loraRows B') };
      const out = take(elements * 4, STORAGE, 'loraRows out');
      let enc = device.createCommandEncoder({ label: 'loraRows' });
      if (mode.kind === 'merged') {
        dispatch(enc, 'merged', { ...inputs, 6: out }, elements);
        return await readBack(out, elements * 4, enc, 'the LoRA kernel (shaders/merge/loraRows.wgsl)');
      }
      const v = take(elements * 8, STORAGE, 'loraRows values');
      const lines = take(lineCount * 8, STORAGE, 'loraRows lines');
      const lineParams = uniform(lineCount);
      dispatch(enc, 'adapted', { ...inputs, 4: v }, elements);
      let lineFactors: Float32Array;
      if (mode.kind === 'dora') lineFactors = mode.factors;
      else {
        dispatch(enc, 'squares', { 0: lineParams, 4: v, 5: lines }, lineCount);
        const squares = await readBack(lines, lineCount * 8, enc, "the LoRA kernel's DoRA norms (shaders/merge/loraRows.wgsl)");
        if (mode.kind === 'squares') return squares;
        lineFactors = mode.factors(squares);
        enc = device.createCommandEncoder({ label: 'loraRows scaled' });
      }
      q.writeBuffer(lines.buffer, 0, lineFactors as Float32Array<ArrayBuffer>);
      dispatch(enc, 'scaled', { 0: elementParams, 4: v, 5: lines, 6: out }, elements);
      return await readBack(out, elements * 4, enc, 'the LoRA kernel (shaders/merge/loraRows.wgsl)');
    } finally {
      for (const b of held) pool.release(b);
    }
  }

  /** Float-float factors m / norm per line, computed in f64 as the twin does. */
  function doraFactors(magnitude: Float64Array, first: number, norms: ArrayLike<number>): Float32Array {
    const out = new Float32Array(2 * norms.length);
    for (let l = 0; l < norms.length; l++) {
      const [hi, lo] = splitToF32Pair(magnitude[first + l] / norms[l]);
      out[2 * l] = hi;
      out[2 * l + 1] = lo;
    }
    return out;
  }

  return {
    name: 'webgpu',
    async mergeRows(f, w, row0, rows, columnNorms) {
      const factors = factorsOf(f);
      const w32 = factors && exactF32(w);
      if (!factors || !w32) return cpuLoraRows.mergeRows(f, w, row0, rows, columnNorms);
      const [, cols] = storedShape(f);
      const m = f.magnitude;
      if (m && f.fanInFanOut && !columnNorms) throw new Error('mergeRows: DoRA with fan_in_fan_out needs the column norms');
      const columnFactors = m && f.fanInFanOut ? doraFactors(m, 0, columnNorms!) : undefined;
      const result = new Float32Array(rows * cols);
      const step = blockRowsOf(cols);
      for (let i = 0; i < rows; i += step) {
        const n = Math.min(step, rows - i);
        const block = w32.subarray(i * cols, (i + n) * cols);
        const start = row0 + i;
        const mode = !m
          ? ({ kind: 'merged' } as const)
          : columnFactors
            ? ({ kind: 'dora', factors: columnFactors } as const)
            : ({ kind: 'dora-rows', factors: (sq: Float32Array) => doraFactors(m, start, rowNorms(sq)) } as const);
        result.set(await runBlock(f, factors, block, start, n, mode), i * cols);
      }
      return result;
    },
    async columnNorms(f, readRows, blockRows) {
      const factors = factorsOf(f);
      if (!factors) return cpuLoraRows.columnNorms(f, readRows, blockRows);
      const [rowsTotal, cols] = storedShape(f);
      const sq = new Float64Array(cols);
      const step = Math.min(blockRows, blockRowsOf(cols));
      for (let row0 = 0; row0 < rowsTotal; row0 += step) {
        const rows = Math.min(step, rowsTotal - row0);
        const w = await readRows(row0, rows);
        const w32 = exactF32(w);
        if (!w32) return cpuLoraRows.columnNorms(f, readRows, blockRows);
        const part = await runBlock(f, factors, w32, row0, rows, { kind: 'squares' });
        for (let c = 0; c < cols; c++) sq[c] += part[2 * c] + part[2 * c + 1];
      }
      return sq.map(Math.sqrt);
    },
  };
}

/** √(hi + lo) per line, in f64, from the kernel's float-float sums of squares. */
function rowNorms(squares: Float32Array): Float64Array {
  const norms = new Float64Array(squares.length / 2);
  for (let l = 0; l < norms.length; l++) norms[l] = Math.sqrt(squares[2 * l] + squares[2 * l + 1]);
  return norms;
}
