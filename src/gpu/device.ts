/**
 * A GPUDevice for SoupLab's kernels: the adapter's own buffer and binding limits requested (the spec
 * defaults of 128/256 MiB are far below what most adapters allow), loss and uncaptured errors turned
 * into typed errors that every pending operation can race against.
 */
import { DeviceLostError, GPUExecutionError } from './errors';

export interface SoupDevice {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** Rejects with DeviceLostError when the device is lost; never resolves otherwise. */
  readonly lost: Promise<never>;
  /** The loss, once it happened. */
  lostError(): DeviceLostError | undefined;
  /** The first error no error scope caught, if any (a bug in our commands). */
  uncapturedError(): GPUExecutionError | undefined;
  /** Runs `encode` inside validation + out-of-memory error scopes; the promise rejects with GPUExecutionError. */
  scoped<T>(what: string, encode: () => T): { value: T; errors: Promise<void> };
  destroy(): void;
}

const LIMITS_WANTED = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups'];

export async function createSoupDevice(adapter: GPUAdapter, label = 'souplab'): Promise<SoupDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WANTED) requiredLimits[name] = adapter.limits[name];
  let device: GPUDevice;
  try {
    // Optional features the model's kernels use when present (src/model/gpu/modelShaders.ts): never required.
    const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    device = await adapter.requestDevice({ label, requiredLimits, requiredFeatures });
  } catch (e) {
    throw new GPUExecutionError(`could not open the GPU device: ${(e as Error).message}`);
  }
  let lost: DeviceLostError | undefined;
  let uncaptured: GPUExecutionError | undefined;
  let destroyedByUs = false;
  const lostPromise = device.lost.then((info): never => {
    const why = destroyedByUs ? 'the GPU device was released' : `the GPU device was lost (${info.reason}${info.message ? `: ${info.message.trim()}` : ''})`;
    lost = new DeviceLostError(why);
    throw lost;
  });
  lostPromise.catch(() => undefined); // observed by whoever races against it
  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    uncaptured ??= new GPUExecutionError(`GPU error: ${err.message.trim()}`);
  });
  return {
    device,
    adapter,
    lost: lostPromise,
    lostError: () => lost,
    uncapturedError: () => uncaptured,
    scoped<T>(what: string, encode: () => T) {
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let value: T | undefined;
      let failure: unknown;
      try {
        value = encode();
      } catch (e) {
        failure = e ?? new Error('unknown failure');
      }
      // Popped synchronously, before any await: concurrent callers never see each other's scopes.
      const validation = device.popErrorScope();
      const oom = device.popErrorScope();
      if (failure !== undefined) {
        void validation.catch(() => undefined);
        void oom.catch(() => undefined);
        throw failure;
      }
      const errors = Promise.all([validation, oom]).then(([v, o]) => {
        const e = o ?? v;
        if (e) {
          const kind = o ? 'out of GPU memory' : 'GPU validation error';
          throw new GPUExecutionError(`${what}: ${kind}: ${e.message.trim()}`);
        }
      }, (e: unknown) => {
        throw lost ?? new GPUExecutionError(`${what}: ${(e as Error).message}`);
      });
      return { value: value as T, errors };
    },
    destroy() {
      destroyedByUs = true;
      device.destroy();
    },
  };
}
