/**
 * DELLA's keep masks on the GPU: drives shaders/merge/dellaRanks.wgsl (specialised per input shape by
 * dellaRanksShader.ts) over a tensor in chunks of whole rows, and returns each model's mask, one bit per
 * element of the tensor. The CPU twin the tests hold it to bit for bit is dellaMask in
 * src/merge/methods/taskArithmeticFamily.ts.
 *
 * Per chunk: the inputs are uploaded once (tensorStatsGpu.ts' packing), `keys` writes every model's
 * |δ| keys, then one `ranks` dispatch per model sets the bits of its kept elements; the bits of the chunk
 * come back in one read (1/16 of a BF16 input's bytes per model) and are OR-ed into the tensor's masks
 * (a word may hold the end of one chunk and the start of the next).
 */
import type { KernelDtype } from '../kernel';
import type { DellaKeepsSpec } from '../program/gpuElements';
import type { TensorChunkSource } from '../program/tensorStats';
import type { GpuBufferPool } from '../../gpu/bufferPool';
import type { PipelineCache } from '../../gpu/pipelineCache';
import { prefetchingChunks } from './chunkPrefetch';
import { DELLA_KEYS_WORKGROUP_SIZE, DELLA_RANK_LANES, dellaRanksShaderCode, dellaRanksShapeKey, type DellaRanksShape } from './dellaRanksShader';

/** What the ranks need of the statistics driver (tensorStatsGpu.ts): its device, uploads and reads. */
export interface StatsGpuParts {
  device: GPUDevice;
  pool: GpuBufferPool;
  pipelines: PipelineCache;
  /** The largest binding, in bytes. */
  maxBinding: number;
  maxWorkgroupsPerDimension: number;
  /** The usual chunk of these inputs, in elements (within one binding). */
  chunkElements(dtypes: readonly KernelDtype[]): number;
  /** Elements [start, start + count) of every input, packed into one storage buffer of `blocks` 8-element blocks per 16-bit input. */
  upload(source: TensorChunkSource, start: number, count: number, signal: AbortSignal | undefined): Promise<{ buffer: GPUBuffer; blocks: number; bytes: number }>;
  /** Runs `encode` in an error scope, submits, and reads `size` bytes of `from` back; `encode` returns the buffers to release after. */
  submitAndRead(what: string, encode: (enc: GPUCommandEncoder) => GPUBuffer[], from: GPUBuffer, size: number): Promise<ArrayBuffer>;
  /** Throws if the device was lost or the work cancelled. */
  check(signal: AbortSignal | undefined): void;
}

const PARAMS_WORDS = 20;

type DellaEntry = 'keys' | 'ranks' | 'shortRanks';
/** Ranks are counted exactly in f32 below this row length (rank / (row − 1) from exact integers). */
const MAX_ROW = 2 ** 24;

/**
 * Each model's keep mask over the whole tensor (bit e of words[e >>> 5]), or undefined where a row does
 * not fit one chunk (or is 2²⁴ elements or longer): the CPU's pass then.
 */
export async function dellaKeepsOnGpu(gpu: StatsGpuParts, source: TensorChunkSource, spec: DellaKeepsSpec, signal?: AbortSignal): Promise<Uint32Array[] | undefined> {
  const { device, pool } = gpu;
  const n = source.elementCount;
  const row = spec.rowLength;
  const models = spec.models.length;
  const masks = spec.models.map(() => new Uint32Array(Math.ceil(n / 32)));
  if (n === 0 || models === 0) return masks;
  if (row >= MAX_ROW || n % row !== 0) return undefined;
  // Whole rows, and every model's keys (4 bytes per element) in one binding.
  const step = Math.floor(Math.min(gpu.chunkElements(source.dtypes), Math.floor(gpu.maxBinding / (4 * models))) / row) * row;
  if (step === 0) return undefined;
  const shape: DellaRanksShape = { inputDtypes: source.dtypes, base: spec.base, models: spec.models.map((m) => m.input) };
  const pipeline = (entry: DellaEntry): GPUComputePipeline => gpu.pipelines.get(`dellaRanks.wgsl ${dellaRanksShapeKey(shape)}`, () => dellaRanksShaderCode(shape), {}, entry);
  const grid = (groups: number): { gx: number; gy: number } => {
    const gx = Math.max(1, Math.min(groups, gpu.maxWorkgroupsPerDimension));
    return { gx, gy: Math.ceil(groups / gx) };
  };
  const ahead = prefetchingChunks(source);
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    const chunk = await gpu.upload(ahead, start, count, signal);
    const firstWord = Math.floor(start / 32);
    const firstBit = start % 32;
    const stride = Math.ceil((firstBit + count) / 32);
    const keyStride = chunk.blocks * 8;
    const keys = pool.acquire(4 * keyStride * models, GPUBufferUsage.STORAGE, 'della keys');
    const bitsSize = 4 * stride * models;
    const bits = pool.acquire(bitsSize, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'della keep bits');
    try {
      const words = new Uint32Array(
        await gpu.submitAndRead(
          'della ranks',
          (enc) => {
            enc.clearBuffer(bits, 0, bitsSize);
            const header = (blocksPerRow: number): Uint32Array => {
              const p = new Uint32Array(PARAMS_WORDS);
              p.set([chunk.blocks, 0, blocksPerRow, count, start >>> 0, Math.floor(start / 4294967296) >>> 0, row, Math.ceil(row / DELLA_RANK_LANES), count / row, 0, keyStride]);
              p[15] = firstBit;
              return p;
            };
            const metas: GPUBuffer[] = [];
            const run = (entry: DellaEntry, params: Uint32Array, buffers: Record<number, GPUBuffer>, workgroups: { gx: number; gy: number }): void => {
              const meta = pool.acquire(PARAMS_WORDS * 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'della params');
              metas.push(meta);
              device.queue.writeBuffer(meta, 0, params as Uint32Array<ArrayBuffer>);
              const p = pipeline(entry);
              const bindGroup = device.createBindGroup({
                layout: p.getBindGroupLayout(0),
                entries: [{ binding: 0, resource: { buffer: meta, size: PARAMS_WORDS * 4 } }, ...Object.entries(buffers).map(([binding, buffer]) => ({ binding: Number(binding), resource: { buffer } }))],
              });
              const pass = enc.beginComputePass({ label: `della ${entry}` });
              pass.setPipeline(p);
              pass.setBindGroup(0, bindGroup);
              pass.dispatchWorkgroups(workgroups.gx, workgroups.gy);
              pass.end();
            };
            const keyGrid = grid(Math.ceil(chunk.blocks / DELLA_KEYS_WORKGROUP_SIZE));
            run('keys', header(keyGrid.gx * DELLA_KEYS_WORKGROUP_SIZE), { 1: chunk.buffer, 2: keys }, keyGrid);
            // Rows of at most half a workgroup: several to a workgroup (shortRanks); else tiles of one row per workgroup.
            const short = 2 * row <= DELLA_RANK_LANES;
            const rows = count / row;
            const rankGrid = grid(short ? Math.ceil(rows / Math.floor(DELLA_RANK_LANES / row)) : rows * Math.ceil(row / DELLA_RANK_LANES));
            spec.models.forEach((m, k) => {
              const p = header(rankGrid.gx);
              const f = new Float32Array(p.buffer);
              p[9] = k * keyStride;
              p[11] = m.stream >>> 0;
              f[12] = m.low;
              f[13] = m.epsilon;
              f[14] = row - 1;
              p[16] = k * stride;
              run(short ? 'shortRanks' : 'ranks', p, { 2: keys, 3: bits }, rankGrid);
            });
            return metas;
          },
          bits,
          bitsSize,
        ),
      );
      masks.forEach((mask, k) => {
        for (let w = 0; w < stride; w++) mask[firstWord + w] |= words[k * stride + w];
      });
    } finally {
      pool.release(keys);
      pool.release(bits);
      pool.release(chunk.buffer);
    }
    gpu.check(signal);
  }
  return masks;
}
