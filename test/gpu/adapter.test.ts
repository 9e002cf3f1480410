import { describe, expect, it } from 'vitest';
import { describeAdapter, requestAdapter } from '../../src/gpu/adapter';
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

  it('says why when there is no WebGPU at all', async () => {
    await expect(requestAdapter(undefined)).rejects.toThrow(WebGPUNotAvailableError);
  });
});
