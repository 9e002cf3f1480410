import { SoupLabError } from '../errors';

/** No WebGPU on this platform, or no adapter: the reason says which, for the backend line. */
export class WebGPUNotAvailableError extends SoupLabError {
  override name = 'WebGPUNotAvailableError';
}

/** The device went away mid-way (driver reset, tab backgrounded too long, out of memory). */
export class DeviceLostError extends SoupLabError {
  override name = 'DeviceLostError';
}

/** A validation or out-of-memory error reported by the device for our own commands. */
export class GPUExecutionError extends SoupLabError {
  override name = 'GPUExecutionError';
}
