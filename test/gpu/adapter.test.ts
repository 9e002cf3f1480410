import { describe, expect, it } from 'vitest';
import { describeAdapter, isSoftwareAdapter, requestAdapter } from '../../src/gpu/adapter';
import { WebGPUNotAvailableError } from '../../src/gpu/errors';
import { nodeGPU } from '../../src/node/webgpu';

describe('WebGPU adapter in Node (Dawn)', () => {
  it('finds an adapter and describes its limits', async () => {
    const adapter = await requestAdapter(await nodeGPU());
    const summary = describeAdapter(adapter);
    expect(summary.name.length).toBeGreaterThan(0);
    expect(summary.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(summary.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
  });

  it('recognises a software adapter (SwiftShader here, or the fallback adapter)', async () => {
    const adapter = await requestAdapter(await nodeGPU());
    const summary = describeAdapter(adapter);
    const expected = summary.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(summary.name);
    expect(isSoftwareAdapter(adapter)).toBe(expected);
    expect(summary.software).toBe(expected);
  });

  it('says why when there is no WebGPU at all', async () => {
    await expect(requestAdapter(undefined)).rejects.toThrow(WebGPUNotAvailableError);
  });
});
