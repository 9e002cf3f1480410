// The fit check (src/model/gpu/fit.ts) on the real shapes people soup (src/model/referenceShapes.ts):
// weights in their 16-bit dtype, tensors larger than a binding cut into parts, and a sentence with
// the sizes when a model does not fit. Pure arithmetic: runs without a GPU. The parameter counts are
// the published ones of Qwen2.5-0.5B/1.5B/3B and Llama-3.1-8B (an oracle independent of this code).
import { describe, expect, it } from 'vitest';
import { checkModelFit, type FitLimits, type TensorInfo } from '../../../src/model/gpu/fit';
import { REFERENCE_SHAPES, type ReferenceShapeName } from '../../../src/model/referenceShapes';
import { modelTensors } from '../../../src/model/weights';

const GiB = 2 ** 30;
const PUBLISHED_PARAMETERS: Record<ReferenceShapeName, number> = {
  'qwen2-0.5b': 494_032_768,
  'qwen2-1.5b': 1_543_714_304,
  'qwen2-3b': 3_085_938_688,
  'llama-8b': 8_030_261_248,
};
/** SwiftShader's limits, and WebGPU's defaults (what an adapter gives when none are requested). */
const SWIFTSHADER: FitLimits = { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB };
const SPEC_DEFAULTS: FitLimits = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };

const bf16 = (name: ReferenceShapeName): TensorInfo[] => modelTensors(REFERENCE_SHAPES[name]).map((t) => ({ name: t.name, shape: t.shape, dtype: 'BF16' }));

describe('fit check on real model shapes', () => {
  for (const name of Object.keys(PUBLISHED_PARAMETERS) as ReferenceShapeName[]) {
    it(`${name}: BF16 weights take 2 bytes a parameter, every tensor fits a binding or is cut`, () => {
      const fit = checkModelFit(REFERENCE_SHAPES[name], bf16(name), SPEC_DEFAULTS, { batchTokens: 512, memoryBudgetBytes: 80 * GiB });
      expect(fit.problems).toEqual([]);
      expect(fit.weightBytes).toBe(2 * PUBLISHED_PARAMETERS[name]);
      expect(fit.batchTokens).toBe(512);
      // 128 MiB bindings: the embedding (151,936 or 128,256 rows) is cut; no part exceeds a binding.
      const embed = fit.splitTensors.find((s) => s.name === 'model.embed_tokens.weight');
      expect(embed?.parts).toBe(Math.ceil((REFERENCE_SHAPES[name].vocabSize * REFERENCE_SHAPES[name].hiddenSize * 2) / (128 * 2 ** 20)));
    });
  }

  it('qwen2-0.5b: the 272 MB embedding is one binding on SwiftShader, three at the spec defaults', () => {
    expect(checkModelFit(REFERENCE_SHAPES['qwen2-0.5b'], bf16('qwen2-0.5b'), SWIFTSHADER, { batchTokens: 512 }).splitTensors).toEqual([]);
    const cut = checkModelFit(REFERENCE_SHAPES['qwen2-0.5b'], bf16('qwen2-0.5b'), SPEC_DEFAULTS, { batchTokens: 512 });
    expect(cut.splitTensors).toEqual([{ name: 'model.embed_tokens.weight', bytes: 151_936 * 896 * 2, parts: 3 }]);
  });

  it('llama-8b: embedding and LM head (1.05 GB each) fit a 1 GiB binding, are cut in 8 under 128 MiB ones; too large for 8 GiB, in one sentence', () => {
    expect(checkModelFit(REFERENCE_SHAPES['llama-8b'], bf16('llama-8b'), SWIFTSHADER, { batchTokens: 512 }).splitTensors).toEqual([]);
    const fits = checkModelFit(REFERENCE_SHAPES['llama-8b'], bf16('llama-8b'), SPEC_DEFAULTS, { batchTokens: 512, memoryBudgetBytes: 24 * GiB });
    expect(fits.fits).toBe(true);
    expect(fits.splitTensors.map((s) => [s.name, s.parts])).toEqual([
      ['model.embed_tokens.weight', 8],
      ['lm_head.weight', 8],
    ]);
    const no = checkModelFit(REFERENCE_SHAPES['llama-8b'], bf16('llama-8b'), SWIFTSHADER, { batchTokens: 512, memoryBudgetBytes: 8 * GiB, name: 'Llama-3.1-8B' });
    expect(no.fits).toBe(false);
    expect(no.problems).toEqual([expect.stringMatching(/^Llama-3\.1-8B needs 1[67]\.\d GB of GPU memory \(16\.1 GB of BF16 weights \+ \d+(\.\d+)? [MG]B for batches of 512 tokens\), the adapter offers 8\.59 GB$/)]);
  });

  it('the larger the model, the more it needs; 3B fits 12 GiB and 8B does not', () => {
    const totals = (Object.keys(PUBLISHED_PARAMETERS) as ReferenceShapeName[]).map((n) => checkModelFit(REFERENCE_SHAPES[n], bf16(n), SWIFTSHADER, { batchTokens: 512, memoryBudgetBytes: 12 * GiB }));
    expect(totals.map((f) => f.fits)).toEqual([true, true, true, false]);
    for (let i = 1; i < totals.length; i++) expect(totals[i].totalBytes).toBeGreaterThan(totals[i - 1].totalBytes);
  });
});
