import { WebGPUNotAvailableError } from './errors';

export interface AdapterSummary {
  /** A one-line description for people: vendor, architecture, device or description. */
  name: string;
  isFallback: boolean;
  /** A CPU implementation of WebGPU (SwiftShader, llvmpipe, WARP): correct, but slower than SoupLab's CPU backend. */
  software: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
  features: string[];
}

export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  const unique = [...new Set(parts)];
  return {
    name: unique.length > 0 ? unique.join(' / ') : 'unnamed adapter',
    isFallback: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    software: isSoftwareAdapter(adapter),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension,
    features: [...adapter.features].sort(),
  };
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|microsoft basic render/i;

/**
 * True for WebGPU implemented on the CPU (the fallback adapter, SwiftShader, llvmpipe, WARP). Such an
 * adapter runs the kernels correctly but far slower than the CPU backend, so automatic backend choice
 * should pass it over (a user may still force it).
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => s && SOFTWARE_ADAPTER.test(s));
}

/**
 * Finds a WebGPU adapter, or throws WebGPUNotAvailableError saying why not.
 * `gpu` is navigator.gpu in a browser, or the object made by the `webgpu` package in Node.
 */
export async function requestAdapter(gpu: GPU | undefined, powerPreference: GPUPowerPreference = 'high-performance'): Promise<GPUAdapter> {
  if (!gpu) {
    throw new WebGPUNotAvailableError('WebGPU is not available here (no navigator.gpu): the CPU path will be used');
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference });
  } catch (e) {
    throw new WebGPUNotAvailableError(`WebGPU adapter request failed: ${(e as Error).message}`);
  }
  if (!adapter) {
    throw new WebGPUNotAvailableError('WebGPU is present but no adapter was found (no GPU driver, or WebGPU disabled)');
  }
  return adapter;
}
