/**
 * Runs single forward-pass kernels (src/model/gpu/forwardRecorder.ts) on a real WebGPU device, for the
 * kernel tests: buffers from typed arrays, one submit, read back. Also seeded test data.
 */
import { decodeToF32, encodeFromF32 } from '../../../src/formats/floatArrays';
import type { SoupDevice } from '../../../src/gpu/device';
import { ForwardRecorder, type BoundWeight } from '../../../src/model/gpu/forwardRecorder';
import { NO_FEATURES, type KernelFeatures, type WeightDtype } from '../../../src/model/gpu/modelShaders';
import { allocateWeight, writeWeight, type ResidentWeight } from '../../../src/model/gpu/residentWeights';
import { PipelineCache } from '../../../src/gpu/pipelineCache';
import { seededUniform } from '../../../src/util/random';

export class KernelHarness {
  readonly pipelines: PipelineCache;
  private readonly made: GPUBuffer[] = [];

  constructor(readonly ctx: SoupDevice) {
    this.pipelines = new PipelineCache(ctx.device);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  buffer(data: Float32Array | Uint32Array | number): GPUBuffer {
    const bytes = typeof data === 'number' ? data * 4 : data.byteLength;
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    if (typeof data !== 'number') this.device.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
    this.made.push(b);
    return b;
  }

  /** A weight of `dtype` holding `values` (rounded to the dtype); maxBytes cuts it into parts. */
  weight(values: Float32Array, shape: number[], dtype: WeightDtype, maxBytes = 1 << 30): ResidentWeight {
    const w = allocateWeight(this.device, 'test weight', shape, dtype, maxBytes);
    writeWeight(this.device, w, values);
    for (const p of w.parts) this.made.push(p.buffer);
    return w;
  }

  bound(w: ResidentWeight, part = 0): BoundWeight {
    return { buffer: w.parts[part].buffer, dtype: w.dtype };
  }

  /** Records and runs kernels; `features` picks their variants (the device must have them). */
  async run(record: (rec: ForwardRecorder) => void, features: KernelFeatures = NO_FEATURES): Promise<void> {
    const rec = new ForwardRecorder(this.device, this.pipelines, features);
    const scoped = this.ctx.scoped('kernel test', () => {
      record(rec);
      const enc = this.device.createCommandEncoder();
      const u = rec.encode(enc, 'test');
      this.device.queue.submit([enc.finish()]);
      return u;
    });
    await scoped.errors;
    await this.device.queue.onSubmittedWorkDone();
    scoped.value?.destroy();
  }

  async read(b: GPUBuffer, count: number): Promise<Float32Array> {
    const size = Math.min(b.size, Math.max(16, Math.ceil((count * 4) / 16) * 16));
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(b, 0, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(count);
    out.set(new Float32Array(staging.getMappedRange(), 0, count));
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readU32(b: GPUBuffer, count: number): Promise<Uint32Array> {
    const f = await this.read(b, count);
    return new Uint32Array(f.buffer, 0, count);
  }

  destroy(): void {
    for (const b of this.made) b.destroy();
    this.made.length = 0;
  }
}

/** Seeded normal-ish values (sum of uniforms), scaled. */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const rnd = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 2 * scale;
  return out;
}

/** The values a weight of `dtype` holds: `values` rounded to it and back (what the kernel decodes). */
export function asDtype(values: Float32Array, dtype: WeightDtype): Float32Array {
  return decodeToF32(dtype, encodeFromF32(dtype, values));
}

/** max |a − b| over elements, and where. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}
