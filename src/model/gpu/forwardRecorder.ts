/**
 * Records the dispatches of a forward pass, then encodes them all into one compute pass of one
 * command buffer: the parameters of every dispatch go into one uniform buffer (a slot each, at the
 * device's offset alignment) written once, so a whole forward is one writeBuffer and one submit.
 * Dispatches in one pass see each other's storage writes in order (WebGPU synchronises between
 * dispatches), which is what the layer-after-layer forward needs.
 *
 * Each method mirrors one kernel of shaders/model/ and documents its operands; shapes are in elements.
 */
import type { PipelineCache } from '../../gpu/pipelineCache';
import { modelShaderCode, modelShaderLabel, NO_FEATURES, type KernelFeatures, type ModelKernel, type WeightDtype } from './modelShaders';

/** A weight (or one part of a weight cut by rows) as a kernel binds it. */
export interface BoundWeight {
  buffer: GPUBuffer;
  dtype: WeightDtype;
}

interface Dispatch {
  pipeline: GPUComputePipeline;
  /** Storage bindings by binding index (the uniform is binding 0). */
  storage: (GPUBuffer | undefined)[];
  params: ArrayBuffer;
  grid: [number, number, number];
}

const PARAM_BYTES = 32;
/** Matmuls of at most this many rows run matmul.wgsl's barrier-free `matvec` (it keeps 4 sums per invocation). */
export const MATVEC_ROWS = 4;
const WG = 64;
/** Dispatch grids fold into y past this many workgroups in x (the WebGPU minimum of every adapter). */
const MAX_X = 65535;

function params(u32: number[], f32At: Record<number, number> = {}): ArrayBuffer {
  const buf = new ArrayBuffer(PARAM_BYTES);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u32.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`kernel parameter ${i} = ${v} is not a u32`);
    u[i] = v;
  });
  for (const [i, v] of Object.entries(f32At)) f[Number(i)] = v;
  return buf;
}

/** A 1-D grid of `threads` invocations in workgroups of 64, folded into y: [gx, gy, threadsPerRow]. */
function flatGrid(threads: number): { grid: [number, number, number]; threadsPerRow: number } {
  const groups = Math.max(1, Math.ceil(threads / WG));
  const gx = Math.min(groups, MAX_X);
  return { grid: [gx, Math.ceil(groups / gx), 1], threadsPerRow: gx * WG };
}

/** One workgroup per row, folded into y at 65535 (the kernels compute row = x + 65535·y). */
function rowGrid(rows: number): [number, number, number] {
  return [Math.max(1, Math.min(rows, MAX_X)), Math.max(1, Math.ceil(rows / MAX_X)), 1];
}

export class ForwardRecorder {
  private readonly dispatches: Dispatch[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly pipelines: PipelineCache,
    /** The optional features the kernels use (each must be enabled on the device). */
    private readonly features: KernelFeatures = NO_FEATURES,
  ) {}

  get length(): number {
    return this.dispatches.length;
  }

  private pipeline(kernel: ModelKernel, dtype: WeightDtype | null, entryPoint = 'main'): GPUComputePipeline {
    return this.pipelines.get(modelShaderLabel(kernel, dtype, this.features), () => modelShaderCode(kernel, dtype, this.features), {}, entryPoint);
  }

  /**
   * Y[yRow0 + r, col0 + c] (=|+=) Σₖ X[xRow0 + r, k] · W[c, k], r < n, c < m (W: this part's m rows).
   * Up to MATVEC_ROWS rows take the barrier-free `matvec` entry point, more the tiled `main`.
   */
  matmul(w: BoundWeight, x: GPUBuffer, y: GPUBuffer, s: { n: number; m: number; k: number; xRow0?: number; yRow0?: number; yStride: number; col0?: number; accumulate?: boolean }): void {
    if (s.n === 0 || s.m === 0) return;
    const few = s.n <= MATVEC_ROWS;
    const tiles: [number, number, number] = [Math.ceil(s.m / 64), Math.ceil(s.n / 64), 1];
    if (!few && (tiles[0] > MAX_X || tiles[1] > MAX_X)) throw new RangeError(`matmul of ${s.n}×${s.m} is too large for one dispatch`);
    const p = params([s.n, s.m, s.k, s.xRow0 ?? 0, s.yRow0 ?? 0, s.yStride, s.col0 ?? 0, s.accumulate ? 1 : 0]);
    const storage = [undefined, w.buffer, x, y];
    if (few) {
      // One invocation per column; the shader recomputes the column from the grid's width.
      const g = flatGrid(s.m);
      this.dispatches.push({ pipeline: this.pipeline('matmul', w.dtype, 'matvec'), storage, params: p, grid: g.grid });
    } else {
      this.dispatches.push({ pipeline: this.pipeline('matmul', w.dtype), storage, params: p, grid: tiles });
    }
  }

  /** Y[row0 + r, :] = w ⊙ X[row0 + r, :] / rms, rows of `dim`; in place on Y when x is null. */
  rmsNorm(w: BoundWeight, x: GPUBuffer | null, y: GPUBuffer, s: { rows: number; dim: number; row0?: number; eps: number }): void {
    if (s.rows === 0) return;
    this.dispatches.push({
      pipeline: this.pipeline('rmsnorm', w.dtype, x ? 'main' : 'inPlace'),
      storage: x ? [undefined, w.buffer, x, y] : [undefined, w.buffer, undefined, y],
      params: params([s.rows, s.dim, s.row0 ?? 0, 0], { 3: s.eps }),
      grid: rowGrid(s.rows),
    });
  }

  /** Rotates heads of X rows xRow0…xRow0+rows−1 (rows of heads × 2·halfDim) by the positions tokens[metaRow0 + r].x. */
  rope(table: GPUBuffer, tokens: GPUBuffer, x: GPUBuffer, s: { rows: number; heads: number; halfDim: number; xRow0: number; metaRow0: number }): void {
    if (s.rows === 0) return;
    const g = flatGrid(s.rows * s.heads * s.halfDim);
    this.dispatches.push({
      pipeline: this.pipeline('rope', null),
      storage: [undefined, table, tokens, x],
      params: params([s.rows, s.heads, s.halfDim, s.xRow0, g.threadsPerRow, s.metaRow0, 0, 0]),
      grid: g.grid,
    });
  }

  /** O[t] = causal GQA attention of Q[t] over its shared rows (tokens[row0 + t].z, .w of them) and its own rows tokens[row0 + t].y … row0 + t, t < tokens. */
  attention(q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, tokens: GPUBuffer, o: GPUBuffer, s: { tokens: number; heads: number; kvHeads: number; headDim: number; row0: number }): void {
    if (s.tokens === 0) return;
    if (s.headDim > 256) throw new RangeError(`head_dim ${s.headDim} is larger than the attention kernel's 256`);
    this.dispatches.push({
      pipeline: this.pipeline('attention', null),
      storage: [undefined, q, k, v, tokens, o],
      params: params([s.tokens, s.heads, s.kvHeads, s.headDim, s.row0, 0, 0, 0], { 5: 1 / Math.sqrt(s.headDim) }),
      grid: [s.heads, Math.min(s.tokens, MAX_X), Math.ceil(s.tokens / MAX_X)],
    });
  }

  /** Y[t, :] = W[ids[row0 + t] − firstRow, :] for the ids this part holds (rows firstRow … +partRows−1). */
  embed(w: BoundWeight, ids: GPUBuffer, y: GPUBuffer, s: { tokens: number; dim: number; firstRow: number; partRows: number; row0: number }): void {
    if (s.tokens === 0) return;
    const g = flatGrid(s.tokens * s.dim);
    this.dispatches.push({
      pipeline: this.pipeline('embed', w.dtype),
      storage: [undefined, w.buffer, ids, y],
      params: params([s.tokens, s.dim, s.firstRow, s.partRows, g.threadsPerRow, s.row0, 0, 0]),
      grid: g.grid,
    });
  }

  /** Y[row0 + r, c] += b[c]. */
  addBias(b: BoundWeight, y: GPUBuffer, s: { rows: number; cols: number; row0: number }): void {
    if (s.rows === 0) return;
    const g = flatGrid(s.rows * s.cols);
    this.dispatches.push({
      pipeline: this.pipeline('elementwise', b.dtype, 'addBias'),
      storage: [undefined, b.buffer, y],
      params: params([s.rows, s.cols, s.row0, g.threadsPerRow]),
      grid: g.grid,
    });
  }

  /** G = silu(G) · U over count elements. */
  swiglu(gate: GPUBuffer, up: GPUBuffer, count: number): void {
    if (count === 0) return;
    const g = flatGrid(count);
    this.dispatches.push({
      // addBias and swiglu share a module; swiglu reads no weight, any dtype's variant serves.
      pipeline: this.pipeline('elementwise', 'F32', 'swiglu'),
      storage: [undefined, up, gate],
      params: params([1, count, 0, g.threadsPerRow]),
      grid: g.grid,
    });
  }

  /** For chunk rows r < rows of L (`vocab` apart): R[2(row0+r)] = log p(targets[row0+r]), R[2(row0+r)+1] = argmax. */
  logSoftmaxGather(logits: GPUBuffer, targets: GPUBuffer, results: GPUBuffer, s: { rows: number; vocab: number; row0: number }): void {
    if (s.rows === 0) return;
    this.dispatches.push({
      pipeline: this.pipeline('logits', null),
      storage: [undefined, logits, targets, results],
      params: params([s.rows, s.vocab, s.row0, 0]),
      grid: rowGrid(s.rows),
    });
  }

  /**
   * Encodes everything recorded so far into `encoder` (one compute pass) and forgets it. Returns the
   * uniform buffer holding the parameters: destroy it once the submit is done.
   */
  encode(encoder: GPUCommandEncoder, label: string): GPUBuffer | null {
    const list = this.dispatches.splice(0);
    if (list.length === 0) return null;
    const align = Math.max(PARAM_BYTES, this.device.limits.minUniformBufferOffsetAlignment);
    const uniforms = this.device.createBuffer({ label: `${label} parameters`, size: align * list.length, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const all = new Uint8Array(align * list.length);
    list.forEach((d, i) => all.set(new Uint8Array(d.params), i * align));
    this.device.queue.writeBuffer(uniforms, 0, all);
    const pass = encoder.beginComputePass({ label });
    list.forEach((d, i) => {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniforms, offset: i * align, size: PARAM_BYTES } }];
      d.storage.forEach((b, binding) => {
        if (b) entries.push({ binding, resource: { buffer: b } });
      });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, this.device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(...d.grid);
    });
    pass.end();
    return uniforms;
  }
}
