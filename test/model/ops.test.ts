/**
 * Properties of the CPU twins that do not need a model (the whole forward pass is checked against llama.cpp
 * in llamaReferee.test.ts): each against an independent formulation.
 */
import { describe, expect, test } from 'vitest';
import { causalAttention, llama3RopeFactors, logSoftmax, matmul, rmsNorm, rope, ropeInvFreq, swiglu } from '../../src/model/cpu/ops';
import { seededGaussian } from '../../src/util/random';

const randn = (n: number, seed: number) => Float32Array.from({ length: n }, seededGaussian(seed));

describe('CPU twins', () => {
  test('rope = multiplying the complex numbers x[i] + i·x[i + d/2] by e^{i·pos·θ_i} (HF rotate_half pairing)', () => {
    const d = 8;
    const heads = 2;
    const rows = 3;
    const x = randn(rows * heads * d, 1);
    const invFreq = ropeInvFreq(d, 10000, null);
    const got = rope(x.slice(), rows, heads, d, invFreq, 5);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < d / 2; i++) {
          const o = (r * heads + h) * d;
          const angle = (5 + r) * 10000 ** (-(2 * i) / d);
          const [re, im] = [x[o + i], x[o + i + d / 2]];
          expect(got[o + i]).toBeCloseTo(re * Math.cos(angle) - im * Math.sin(angle), 5);
          expect(got[o + i + d / 2]).toBeCloseTo(re * Math.sin(angle) + im * Math.cos(angle), 5);
        }
      }
    }
  });

  test('Llama 3 scaling: inverse frequencies are the plain ones divided by the converter\'s rope factors', () => {
    const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };
    const plain = ropeInvFreq(32, 500000, null);
    const scaled = ropeInvFreq(32, 500000, scaling);
    const factors = llama3RopeFactors(32, 500000, scaling);
    expect(factors[0]).toBe(1); // the highest frequency is kept
    expect(factors[15]).toBe(8); // the lowest is divided by `factor`
    expect(factors.some((f) => f > 1 && f < 8)).toBe(true); // and a band in between is interpolated
    plain.forEach((f, i) => expect(scaled[i]).toBeCloseTo(f / factors[i], 6));
  });

  test('GQA: query head h reads kv head ⌊h / (heads / kvHeads)⌋; one visible key returns its value', () => {
    const d = 4;
    const heads = 6;
    const kvHeads = 2;
    const q = randn(heads * d, 2);
    const k = randn(kvHeads * d, 3);
    const v = Float32Array.from({ length: kvHeads * d }, (_, i) => Math.floor(i / d) + 1); // kv head j's value is all j + 1
    const out = causalAttention(q, k, v, 1, 0, heads, kvHeads, d);
    for (let h = 0; h < heads; h++) expect(Array.from(out.subarray(h * d, (h + 1) * d))).toEqual(Array(d).fill(Math.floor(h / 3) + 1));
  });

  test('causal attention: row t ignores later keys; weights are softmax(q·k/√d)', () => {
    const d = 4;
    const q = randn(2 * d, 4);
    const k = randn(2 * d, 5);
    const v = randn(2 * d, 6);
    const out = causalAttention(q, k, v, 2, 0, 1, 1, d);
    expect(Array.from(out.subarray(0, d))).toEqual(Array.from(v.subarray(0, d)));
    const dot = (a: number, b: number) => [0, 1, 2, 3].reduce((s, i) => s + q[a * d + i] * k[b * d + i], 0) / 2;
    const [w0, w1] = [Math.exp(dot(1, 0)), Math.exp(dot(1, 1))];
    for (let i = 0; i < d; i++) expect(out[d + i]).toBeCloseTo((w0 * v[i] + w1 * v[d + i]) / (w0 + w1), 5);
  });

  test('rmsNorm, matmul (x·Wᵀ), swiglu, logSoftmax on small hand-checked values', () => {
    expect(Array.from(rmsNorm(Float32Array.of(3, 4), Float32Array.of(1, 2), 1, 2, 0))).toEqual([3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)].map(Math.fround));
    expect(Array.from(matmul(Float32Array.of(1, 2), Float32Array.of(1, 0, 0, 1, 1, 1), 1, 2, 3))).toEqual([1, 2, 3]);
    expect(swiglu(Float32Array.of(0, 1), Float32Array.of(5, 2))[1]).toBeCloseTo(2 / (1 + Math.exp(-1)), 6);
    const lp = logSoftmax(Float32Array.of(1, 2, 3, 1000, 1000, 1000), 2, 3);
    expect(lp[0]).toBeCloseTo(1 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
    expect(lp[3]).toBeCloseTo(-Math.log(3), 6);
  });
});
