// The kernels' optional-feature variants (src/model/gpu/modelShaders.ts). SwiftShader has `subgroups`
// (modelKernels.test.ts and webgpuCausalLM.test.ts run those variants) but not `shader-f16`, so the f16
// matmul cannot run here: its WGSL is checked by Dawn's parser instead. Tint reports syntax errors before
// it refuses a disallowed extension, so "the only error is that f16 is not allowed" means the module
// parses; its types and uniformity are NOT checked here and it is untested on hardware.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import { modelShaderCode, modelShaderLabel, type ModelKernel, type WeightDtype } from '../../../src/model/gpu/modelShaders';
import { chooseKernelFeatures } from '../../../src/model/gpu/webgpuCausalLM';
import { nodeGPU } from '../../../src/node/webgpu';

let ctx: SoupDevice;
beforeAll(async () => {
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'kernel variant tests');
});
afterAll(() => ctx?.destroy());

const ALL = { f16: true, subgroups: true };

async function errorsOf(code: string): Promise<string[]> {
  ctx.device.pushErrorScope('validation');
  const module = ctx.device.createShaderModule({ code });
  await ctx.device.popErrorScope();
  const info = await module.getCompilationInfo();
  return info.messages.filter((m) => m.type === 'error').map((m) => m.message);
}

describe('kernel variants', () => {
  it('the test adapter has subgroups and lacks shader-f16 (what the other variant tests assume)', () => {
    expect(ctx.device.features.has('subgroups')).toBe(true);
    expect(ctx.device.features.has('shader-f16')).toBe(false);
  });

  for (const dtype of ['F32', 'F16', 'BF16'] as WeightDtype[]) {
    it(`the f16 tiled matmul for ${dtype} weights parses (refused only for the missing shader-f16)`, async () => {
      const code = modelShaderCode('matmul', dtype, ALL);
      expect(code.startsWith('enable f16;')).toBe(true);
      expect(code).toContain('alias Tile = f16;');
      expect(await errorsOf(code)).toEqual([expect.stringMatching(/extension 'f16' is not allowed/)]);
      // A syntax error is reported as such, not as the extension: the check above can fail.
      expect((await errorsOf(code.replace('fn matvec(', 'fn matvec((')))[0]).not.toMatch(/extension 'f16'/);
    });
  }

  it('variants are separate modules only where a kernel uses the feature', () => {
    expect(modelShaderLabel('matmul', 'BF16', ALL)).toBe('model/matmul.wgsl BF16 f16');
    expect(modelShaderLabel('rmsnorm', 'BF16', ALL)).toBe('model/rmsnorm.wgsl BF16 subgroups');
    expect(modelShaderLabel('logits', null, ALL)).toBe('model/logits.wgsl subgroups');
    expect(modelShaderLabel('attention', null, ALL)).toBe('model/attention.wgsl');
    for (const k of ['rope', 'attention', 'embed', 'elementwise'] as ModelKernel[]) {
      expect(modelShaderCode(k, 'F16', ALL)).toBe(modelShaderCode(k, 'F16', { f16: false, subgroups: false }));
    }
  });

  it('features: subgroups where the device has them, f16 tiles only when asked for; refused when asked for and missing', () => {
    // f16 tiles only when asked for (not yet measured on hardware); subgroups wherever the device has them.
    expect(chooseKernelFeatures({ f16: true, subgroups: true }, {})).toEqual({ f16: false, subgroups: true });
    expect(chooseKernelFeatures({ f16: true, subgroups: true }, { f16: true })).toEqual({ f16: true, subgroups: true });
    expect(() => chooseKernelFeatures({ f16: false, subgroups: true }, { f16: true })).toThrow('the GPU device does not offer the WebGPU feature shader-f16, which was asked for');
    expect(chooseKernelFeatures({ f16: true, subgroups: true }, { f16: false })).toEqual({ f16: false, subgroups: true });
    expect(chooseKernelFeatures({ f16: false, subgroups: true }, { subgroups: false })).toEqual({ f16: false, subgroups: false });
    expect(() => chooseKernelFeatures({ f16: false, subgroups: false }, { subgroups: true })).toThrow('the GPU device does not offer the WebGPU feature subgroups, which was asked for');
  });
});
