/**
 * arcee_fusion's own pieces, beside its parity with the reference in methods.test.ts: the order key its
 * quartile selection ranks by, and what the method does to a tensor (a few outlying deltas kept).
 */
import { describe, expect, test } from 'vitest';
import { ascendingKey, valueOfKey } from '../../src/merge/methods/arceeFusion';
import { getMethod } from '../../src/merge/methods/registry';
import type { TensorContext } from '../../src/merge/methods/types';
import { rng } from './models';

describe('arcee_fusion', () => {
  test('the order key sorts f32 values as torch.sort does (−0 before +0, NaN last) and gives each value back', () => {
    const r = rng(5);
    const specials = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, -1];
    const values = Float32Array.from({ length: 2000 }, (_, i) => (i < specials.length ? specials[i] : (r() - 0.5) * 10 ** Math.floor(r() * 20 - 10)));
    const byKey = Array.from(values).sort((a, b) => ascendingKey(a) - ascendingKey(b));
    const sorted = values.slice().sort(); // TypedArray order: numeric, −0 before +0, NaN last
    expect(byKey.map((v) => Object.is(v, -0) ? '-0' : String(v))).toEqual(Array.from(sorted, (v) => (Object.is(v, -0) ? '-0' : String(v))));
    for (const v of values) {
      if (Number.isNaN(v)) expect(valueOfKey(ascendingKey(v))).toBeNaN();
      else expect(Object.is(valueOfKey(ascendingKey(v)), v)).toBe(true);
    }
  });

  test('keeps the model only at outlying importances: each element is the base or the model, a minority the model', () => {
    const rows = 64;
    const cols = 32;
    const numel = rows * cols;
    const r = rng(9);
    const base = Float32Array.from({ length: numel }, () => (r() - 0.5) * 0.2);
    // Most rows change a little; a few rows change a lot (their softmax moves: a large KL).
    const model = Float32Array.from(base, (v, i) => v + (r() - 0.5) * (Math.floor(i / cols) % 9 === 0 ? 0.5 : 0.01));
    const ctx: TensorContext = { name: 'model.layers.0.mlp.up_proj.weight', shape: [rows, cols], numel, inputCount: 2, baseIndex: 0, params: {}, modelParams: [{}, {}], seed: 1, tensorKey: 1, outDtype: 'F32' };
    const program = getMethod('arcee_fusion').program(ctx);
    const chunk = { offset: 0, count: numel, x: [base, model] };
    for (const pass of program.passes) {
      pass.accumulate(chunk);
      pass.finish();
    }
    const out = new Float32Array(numel);
    program.combine(chunk, out);
    let fromModel = 0;
    let inStrongRows = 0;
    for (let i = 0; i < numel; i++) {
      const isModel = out[i] === Math.fround(base[i] + Math.fround(model[i] - base[i]));
      expect(isModel || out[i] === base[i], `element ${i}`).toBe(true);
      if (isModel && out[i] !== base[i]) {
        fromModel++;
        if (Math.floor(i / cols) % 9 === 0) inStrongRows++;
      }
    }
    expect(fromModel).toBeGreaterThan(0);
    expect(fromModel).toBeLessThan(numel / 4);
    // The kept deltas are in the rows that moved.
    expect(inStrongRows / fromModel).toBeGreaterThan(0.9);
  });
});
