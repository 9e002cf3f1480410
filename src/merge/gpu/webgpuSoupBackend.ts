/**
 * The WebGPU soup backend: drives shaders/merge/soup.wgsl.
 *
 * A job is cut into pieces that fit the device's binding limits (and, for large jobs, into a few
 * pieces anyway, so that a caller awaiting one job at a time still gets overlap). Each piece packs its
 * inputs into one storage buffer — so any number of inputs fits in three bindings — runs one dispatch
 * of shaders/merge/soup.wgsl specialised to the job's shape (src/merge/gpu/soupShader.ts),
 * copies the result into a staging buffer and reads it back. Pieces of all concurrent run() calls
 * share a bounded number of places in flight: while one piece computes, the next one's upload is
 * queued and the previous one is being read back. Buffers come from a pool, pipelines from a cache.
 */
import { CancelledError } from '../../errors';
import type { SoupJob } from '../kernel';
import { KERNEL_DTYPE_BYTES, validateSoupJob } from '../kernel';
import { describeAdapter } from '../../gpu/adapter';
import { GpuBufferPool } from '../../gpu/bufferPool';
import { createSoupDevice, type SoupDevice } from '../../gpu/device';
import { DeviceLostError, GPUExecutionError } from '../../gpu/errors';
import { PipelineCache } from '../../gpu/pipelineCache';
import { blocksPerElementBlock, SOUP_BLOCK_ELEMENTS, SOUP_WORKGROUP_SIZE, soupShaderCode, soupShapeKey, type SoupShape } from './soupShader';
import { Semaphore } from '../../util/semaphore';
import { runTensorProgramOnGpu } from './runProgramGpu';
import { createGpuTensorStats } from './tensorStatsGpu';
import { createGpuLoraRows } from './loraRowsGpu';
import type { ElementwiseJob } from './elementwiseJob';
import type { WebGPUSoupBackend } from './gpuSoupBackend';

export type { ElementwiseJob } from './elementwiseJob';
export type { WebGPUSoupBackend } from './gpuSoupBackend';

export interface WebGPUSoupBackendOptions {
  /** Largest job accepted (default: 8 Mi elements, or less where the device's limits require). */
  maxChunkElements?: number;
  /** Largest packed-input buffer of one dispatch, in bytes (default: the device limits, at most 256 MiB). */
  maxPieceBytes?: number;
  /** Pieces in flight at once over all run() calls (default 3: upload, compute, read back). */
  maxInFlight?: number;
  /** Fold dispatches wider than this into a second dimension (default and maximum: the device limit). */
  maxWorkgroupsPerDimension?: number;
}


/** Piece boundaries fall on multiples of this many elements: whole blocks, whole workgroups. */
const PIECE_ALIGN = SOUP_BLOCK_ELEMENTS * SOUP_WORKGROUP_SIZE;
const BLOCK_BYTES = 16;

const shapeOf = (job: SoupJob): SoupShape => ({ mode: job.mode, inputDtypes: job.inputs.map((i) => i.dtype), outDtype: job.outDtype });

export async function createWebGPUSoupBackend(adapter: GPUAdapter, opts: WebGPUSoupBackendOptions = {}): Promise<WebGPUSoupBackend> {
  const ctx: SoupDevice = await createSoupDevice(adapter, 'souplab soup');
  const { device } = ctx;
  const limits = device.limits;
  const pool = new GpuBufferPool(device, 4);
  const pipelines = new PipelineCache(device);
  const places = new Semaphore(Math.max(1, opts.maxInFlight ?? 3));
  const maxPieceBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, opts.maxPieceBytes ?? 256 * 1024 * 1024);
  const alignDown = (n: number): number => Math.floor(n / PIECE_ALIGN) * PIECE_ALIGN;
  const maxChunkElements = Math.max(1, Math.floor(opts.maxChunkElements ?? Math.min(8 * 1024 * 1024, alignDown(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 4))));
  const maxX = Math.max(1, Math.min(limits.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity));
  const inFlight = new Set<Promise<unknown>>();
  let disposed = false;
  let piecesRun = 0;

  /** The kernel specialised to the job's shape, compiled on first use. */
  function pipelineFor(shape: SoupShape): GPUComputePipeline {
    const key = soupShapeKey(shape);
    return pipelines.get(`soup.wgsl ${key}`, () => soupShaderCode(shape));
  }

  // Compile now, so that a driver that cannot build the kernel fails here, not mid-merge: every load
  // (F32, F16, BF16) and every store, in both modes.
  const compiled = ctx.scoped('compiling shaders/merge/soup.wgsl', () => {
    for (const mode of ['linear', 'delta'] as const) {
      for (const outDtype of ['F32', 'F16', 'BF16'] as const) pipelineFor({ mode, inputDtypes: ['F32', 'F16', 'BF16'], outDtype });
    }
  });
  try {
    await compiled.errors;
  } catch (e) {
    ctx.destroy();
    throw e;
  }

  function failIfUnusable(signal: AbortSignal | undefined): void {
    const lost = ctx.lostError();
    if (lost) throw lost;
    if (disposed) throw new GPUExecutionError('the WebGPU backend was disposed');
    const uncaptured = ctx.uncapturedError();
    if (uncaptured) throw uncaptured;
    if (signal?.aborted) throw new CancelledError();
  }

  /** Why a GPU promise failed: loss (possibly reported a moment later) or an error of ours. */
  async function explain(e: unknown, what: string): Promise<Error> {
    if (e instanceof DeviceLostError || e instanceof GPUExecutionError || e instanceof CancelledError) return e;
    await Promise.race([ctx.lost.catch(() => undefined), new Promise((r) => setTimeout(r, 250))]);
    return ctx.lostError() ?? new GPUExecutionError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }

  /**
   * Where each input goes in the packed buffer (byte offsets, blocks of 8 elements, the last one padded),
   * the uniform parameters (see Params in soup.wgsl) and the dispatch grid, for `count` elements.
   */
  function layoutPiece(job: Pick<SoupJob, 'inputs' | 'outDtype'>, count: number, paramsOf: () => Uint8Array<ArrayBuffer>) {
    const blocks = Math.ceil(count / SOUP_BLOCK_ELEMENTS);
    const offsets: number[] = [];
    let slots = 0;
    for (const inp of job.inputs) {
      offsets.push(slots * blocks * BLOCK_BYTES);
      slots += blocksPerElementBlock(inp.dtype);
    }
    const srcBytes = slots * blocks * BLOCK_BYTES;
    const outSize = KERNEL_DTYPE_BYTES[job.outDtype];
    const outBytes = blocks * blocksPerElementBlock(job.outDtype) * BLOCK_BYTES;
    const groups = Math.ceil(blocks / SOUP_WORKGROUP_SIZE);
    const gx = Math.min(groups, maxX);
    const gy = Math.ceil(groups / gx);
    const params = paramsOf();
    new Uint32Array(params.buffer, params.byteOffset, 4).set([blocks, 0, gx * SOUP_WORKGROUP_SIZE, 0]);
    return { offsets, srcBytes, outSize, outBytes, gx, gy, params };
  }

  /** The soup kernel's uniform: the header, then one f32 coefficient per input. */
  const soupParams = (job: SoupJob) => (): Uint8Array<ArrayBuffer> => {
    const params = new ArrayBuffer(16 + 16 * Math.ceil(job.inputs.length / 4));
    new Float32Array(params, 16, job.inputs.length).set(job.coefficients);
    return new Uint8Array(params);
  };

  /** The parameters hold one coefficient per input: the uniform binding's size bounds the input count. */
  function checkInputCount(job: SoupJob): void {
    const need = 16 + 16 * Math.ceil(job.inputs.length / 4);
    if (need > limits.maxUniformBufferBindingSize) {
      throw new GPUExecutionError(`${job.inputs.length} inputs are more than this GPU's WebGPU kernel takes (${4 * Math.floor((limits.maxUniformBufferBindingSize - 16) / 16)}); use the CPU backend`);
    }
  }

  /** One piece of an element-wise job: `pipeline` over elements [start, start + count), into `result`. */
  async function runPiece(job: Pick<SoupJob, 'inputs' | 'outDtype'>, pipeline: () => GPUComputePipeline, paramsOf: () => Uint8Array<ArrayBuffer>, start: number, count: number, result: Uint8Array, signal: AbortSignal | undefined, storageOf?: () => Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>): Promise<void> {
    await places.acquire();
    const held: GPUBuffer[] = [];
    let staging: GPUBuffer | undefined;
    let healthy = false;
    try {
      failIfUnusable(signal);
      const { offsets, srcBytes, outSize, outBytes, gx, gy, params } = layoutPiece(job, count, paramsOf);

      const submitted = ctx.scoped('soup kernel', () => {
        const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
        const meta = pool.acquire(params.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'soup params');
        const src = pool.acquire(srcBytes, STORAGE, 'soup inputs');
        const dst = pool.acquire(outBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'soup output');
        const stage = pool.acquire(outBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'soup staging');
        held.push(meta, src, dst);
        staging = stage;
        const q = device.queue;
        q.writeBuffer(meta, 0, params);
        // The padding after each input's last element is left as it is: it only feeds output padding.
        job.inputs.forEach((inp, i) => {
          const size = KERNEL_DTYPE_BYTES[inp.dtype];
          const bytes = inp.bytes.subarray(start * size, (start + count) * size);
          const at = offsets[i];
          const whole = bytes.byteLength & ~3;
          if (whole > 0) q.writeBuffer(src, at, bytes as Uint8Array<ArrayBuffer>, 0, whole); // views of SharedArrayBuffers are accepted too
          if (whole < bytes.byteLength) {
            // Writes are multiples of 4 bytes: the odd last element goes in a zero-padded word.
            const tail = new Uint8Array(4);
            tail.set(bytes.subarray(whole));
            q.writeBuffer(src, at + whole, tail);
          }
        });
        const extra = storageOf?.();
        let lines: GPUBuffer | undefined;
        if (extra) {
          lines = pool.acquire(Math.max(16, extra.byteLength), STORAGE, 'soup line scalars');
          held.push(lines);
          q.writeBuffer(lines, 0, extra);
        }
        const kernel = pipeline();
        const bindGroup = device.createBindGroup({
          layout: kernel.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: meta, size: params.byteLength } },
            { binding: 1, resource: { buffer: src, size: srcBytes } },
            { binding: 2, resource: { buffer: dst, size: outBytes } },
            ...(lines ? [{ binding: 3, resource: { buffer: lines } }] : []),
          ],
        });
        const enc = device.createCommandEncoder({ label: 'soup' });
        const pass = enc.beginComputePass({ label: 'soup' });
        pass.setPipeline(kernel);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(gx, gy);
        pass.end();
        enc.copyBufferToBuffer(dst, 0, stage, 0, outBytes);
        q.submit([enc.finish()]);
        return stage;
      });
      const stage = submitted.value;
      try {
        // The map is asked for with the submission, not after its error scope answers (each is a
        // round trip to the device); the scope's verdict still comes first, the bytes are read after both.
        // Whichever loses a race must not surface later as an unhandled rejection.
        submitted.errors.catch(() => undefined);
        const mapped = stage.mapAsync(GPUMapMode.READ, 0, outBytes);
        mapped.catch(() => undefined);
        await Promise.race([submitted.errors, ctx.lost]);
        await Promise.race([mapped, ctx.lost]);
      } catch (e) {
        throw await explain(e, 'reading the merged chunk back from the GPU failed');
      }
      // Copy out before unmap: unmapping detaches the mapped ArrayBuffer.
      result.set(new Uint8Array(stage.getMappedRange(0, outBytes), 0, count * outSize), start * outSize);
      stage.unmap();
      piecesRun++;
      healthy = true;
      failIfUnusable(signal);
    } finally {
      for (const b of held) pool.release(b);
      if (staging) {
        if (healthy) pool.release(staging);
        else staging.destroy(); // it may be mid-map; never hand it out again
      }
      places.release();
    }
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    const forget = (): void => void inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Cuts a job into pieces that fit one binding (at least four for large jobs, to overlap transfers and compute). */
  async function runPieces(
    job: Pick<SoupJob, 'inputs' | 'outDtype' | 'elementCount'>,
    pipeline: () => GPUComputePipeline,
    /** The uniform of the piece starting at element `start` (its header is filled in by layoutPiece). */
    paramsAt: (start: number) => () => Uint8Array<ArrayBuffer>,
    signal: AbortSignal | undefined,
    storageAt?: (start: number, count: number) => Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>,
  ): Promise<Uint8Array> {
    const n = job.elementCount;
    if (n > maxChunkElements) throw new GPUExecutionError(`soup job of ${n} elements exceeds the backend's chunk limit of ${maxChunkElements}`);
    const result = new Uint8Array(n * KERNEL_DTYPE_BYTES[job.outDtype]);
    if (n === 0) return result;
    const bytesPerElement = job.inputs.reduce((s, inp) => s + KERNEL_DTYPE_BYTES[inp.dtype], 0);
    const fits = alignDown(maxPieceBytes / Math.max(bytesPerElement, 4));
    if (fits < PIECE_ALIGN) throw new GPUExecutionError(`${job.inputs.length} inputs do not fit in one GPU binding of ${maxPieceBytes} bytes`);
    const piece = Math.min(fits, Math.max(1 << 20, alignDown(Math.ceil(n / 4) + PIECE_ALIGN - 1)));
    const pieces: Promise<void>[] = [];
    for (let s = 0; s < n; s += piece) {
      const count = Math.min(piece, n - s);
      pieces.push(track(runPiece(job, pipeline, paramsAt(s), s, count, result, signal, storageAt && (() => storageAt(s, count)))));
    }
    const settled = await Promise.allSettled(pieces);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return result;
  }

  const backend: WebGPUSoupBackend = {
    kind: 'webgpu',
    description: `WebGPU on ${describeAdapter(adapter).name}`,
    maxChunkElements,
    gpuDevice: device,
    shared: { ctx, pool, pipelines },
    tensorStats: createGpuTensorStats(ctx, pool, pipelines),
    loraRows: createGpuLoraRows(ctx, pool, pipelines),
    runProgram(tensor, opts) {
      return runTensorProgramOnGpu(tensor, { backend, stats: backend.tensorStats, ...opts });
    },
    async run(job: SoupJob, signal?: AbortSignal): Promise<Uint8Array> {
      failIfUnusable(signal);
      validateSoupJob(job);
      checkInputCount(job);
      return runPieces(job, () => pipelineFor(shapeOf(job)), () => soupParams(job), signal);
    },
    async runElementwise(job: ElementwiseJob, signal?: AbortSignal): Promise<Uint8Array> {
      failIfUnusable(signal);
      validateSoupJob({ mode: 'linear', coefficients: new Float32Array(job.inputs.length), inputs: job.inputs, outDtype: job.outDtype, elementCount: job.elementCount });
      const pipeline = () => pipelines.get(job.shaderKey, job.shaderCode);
      return runPieces(job, pipeline, (start) => () => job.params(start), signal, job.storage && ((start, count) => job.storage!(start, count)));
    },
    async timeKernel(job: SoupJob, repeats: number) {
      failIfUnusable(undefined);
      validateSoupJob(job);
      checkInputCount(job);
      const bytesPerElement = job.inputs.reduce((sum, inp) => sum + KERNEL_DTYPE_BYTES[inp.dtype], 0);
      if (job.elementCount * Math.max(bytesPerElement, 4) > maxPieceBytes) throw new GPUExecutionError('timeKernel: the job must fit in one piece');
      const { offsets, srcBytes, outBytes, gx, gy, params } = layoutPiece(job, job.elementCount, soupParams(job));
      const made: GPUBuffer[] = [];
      const buffer = (size: number, usage: GPUBufferUsageFlags): GPUBuffer => {
        const b = device.createBuffer({ size: Math.ceil(size / 16) * 16, usage });
        made.push(b);
        return b;
      };
      try {
        const meta = buffer(params.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        const src = buffer(srcBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
        const dst = buffer(outBytes, GPUBufferUsage.STORAGE);
        device.queue.writeBuffer(meta, 0, params);
        job.inputs.forEach((inp, i) => {
          const padded = new Uint8Array(Math.ceil(inp.bytes.byteLength / 4) * 4);
          padded.set(inp.bytes);
          device.queue.writeBuffer(src, offsets[i], padded);
        });
        const pipeline = pipelineFor(shapeOf(job));
        const bindGroup = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [meta, src, dst].map((b, binding) => ({ binding, resource: { buffer: b, size: [params.byteLength, srcBytes, outBytes][binding] } })),
        });
        const submit = (times: number): void => {
          const enc = device.createCommandEncoder();
          for (let r = 0; r < times; r++) {
            const pass = enc.beginComputePass();
            pass.setPipeline(pipeline);
            pass.setBindGroup(0, bindGroup);
            pass.dispatchWorkgroups(gx, gy);
            pass.end();
          }
          device.queue.submit([enc.finish()]);
        };
        submit(1); // warm-up: uploads and first use
        await Promise.race([device.queue.onSubmittedWorkDone(), ctx.lost]);
        const t0 = performance.now();
        submit(repeats);
        await Promise.race([device.queue.onSubmittedWorkDone(), ctx.lost]);
        return { seconds: (performance.now() - t0) / 1000, bytesPerRun: job.elementCount * (bytesPerElement + KERNEL_DTYPE_BYTES[job.outDtype]) };
      } finally {
        for (const b of made) b.destroy();
      }
    },
    stats() {
      return { buffersCreated: pool.created, buffersReused: pool.reused, pipelines: pipelines.size, piecesRun };
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      await Promise.allSettled([...inFlight]);
      pool.destroy();
      ctx.destroy();
    },
  };
  return backend;
}
