/** What the WebGPU soup backend offers the program runner and the statistics kernels beside it (made by webgpuSoupBackend.ts). */
import type { SoupDevice } from '../../gpu/device';
import type { GpuBufferPool } from '../../gpu/bufferPool';
import type { PipelineCache } from '../../gpu/pipelineCache';
import type { SoupBackend, SoupJob } from '../kernel';
import type { ElementwiseJob } from './elementwiseJob';
import type { GpuTensorStats } from './tensorStatsGpu';
import type { LoraRowsComputer } from '../../formats/lora/loraRows';

export interface WebGPUSoupBackend extends SoupBackend {
  /** Runs a method's element kernel (see ElementwiseJob); concurrent calls share the pieces in flight. */
  runElementwise(job: ElementwiseJob, signal?: AbortSignal): Promise<Uint8Array>;
  /** The device and caches, for the statistics kernels (src/merge/gpu/tensorStatsGpu.ts) that run beside the element kernels. */
  readonly shared: { ctx: SoupDevice; pool: GpuBufferPool; pipelines: PipelineCache };
  /** The whole-tensor statistics kernels on this backend's device. */
  readonly tensorStats: GpuTensorStats;
  /** LoRA-adapted inputs' rows on this backend's device (shaders/merge/loraRows.wgsl). */
  readonly loraRows: LoraRowsComputer;
  readonly kind: 'webgpu';
  /** The device, for diagnostics and tests (destroying it makes every run fail with DeviceLostError). */
  readonly gpuDevice: GPUDevice;
  stats(): { buffersCreated: number; buffersReused: number; pipelines: number; piecesRun: number };
  /**
   * Kernel-only timing for benchmarks: uploads `job` once (it must fit one piece), then runs its
   * dispatch `repeats` times back to back. Bytes = the inputs read plus the output written, per run.
   */
  timeKernel(job: SoupJob, repeats: number): Promise<{ seconds: number; bytesPerRun: number }>;
}
