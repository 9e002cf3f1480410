import { describe, expect, test } from 'vitest';
import { truncatedSvd } from '../../src/util/truncatedSvd';
import { rng } from '../merge/models';

/** k orthonormal columns of length n (Gram-Schmidt on seeded random vectors), row-major [n, k]. */
function orthonormal(n: number, k: number, seed: number): Float64Array {
  const r = rng(seed);
  const q = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) q[i * k + j] = r() - 0.5;
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[i * k + j] * q[i * k + p];
      for (let i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * k + j] ** 2;
    for (let i = 0; i < n; i++) q[i * k + j] /= Math.sqrt(norm);
  }
  return q;
}

/** U·diag(s)·Vᵀ with U [m, k], V [n, k]. */
function compose(u: Float64Array, s: number[], v: Float64Array, m: number, n: number): Float64Array {
  const k = s.length;
  const d = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) d[i * n + j] += u[i * k + t] * s[t] * v[j * k + t];
  return d;
}

const maxAbs = (a: Float64Array, b: Float64Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('truncatedSvd', () => {
  test('recovers the singular values and the matrix of a rank-3 matrix, at k = 3 and above', () => {
    const [m, n] = [30, 20];
    const s = [5, 2, 0.5];
    const d = compose(orthonormal(m, 3, 1), s, orthonormal(n, 3, 2), m, n);
    for (const k of [3, 6]) {
      const svd = truncatedSvd(d, m, n, k);
      expect(svd.k).toBe(k);
      for (let t = 0; t < 3; t++) expect(svd.s[t]).toBeCloseTo(s[t], 12);
      for (let t = 3; t < k; t++) expect(svd.s[t]).toBeLessThan(1e-12);
      const back = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) back[i * n + j] += svd.u[i * k + t] * svd.s[t] * svd.vt[t * n + j];
      expect(maxAbs(back, d)).toBeLessThan(1e-12);
    }
  });

  test('a full-rank matrix truncated: orthonormal factors, and the residual holds exactly the dropped energy (Eckart–Young)', () => {
    const [m, n, k] = [16, 12, 5];
    const r = rng(7);
    const d = Float64Array.from({ length: m * n }, () => r() - 0.5);
    const svd = truncatedSvd(d, m, n, k, { powerIterations: 30 });
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        let uu = 0;
        let vv = 0;
        for (let i = 0; i < m; i++) uu += svd.u[i * k + a] * svd.u[i * k + b];
        for (let j = 0; j < n; j++) vv += svd.vt[a * n + j] * svd.vt[b * n + j];
        expect(uu).toBeCloseTo(a === b ? 1 : 0, 10);
        expect(vv).toBeCloseTo(a === b ? 1 : 0, 10);
      }
      if (a > 0) expect(svd.s[a]).toBeLessThanOrEqual(svd.s[a - 1]);
    }
    // The full spectrum (k = 12, exact) says how much energy the best rank-5 approximation keeps.
    const all = truncatedSvd(d, m, n, n, { oversample: 0 });
    const total = d.reduce((s, x) => s + x * x, 0);
    expect(all.s.reduce((s, x) => s + x * x, 0)).toBeCloseTo(total, 10);
    for (let t = 0; t < k; t++) expect(svd.s[t]).toBeCloseTo(all.s[t], 8);
    const again = truncatedSvd(d, m, n, k, { powerIterations: 30 });
    expect(again.u).toEqual(svd.u); // deterministic: the same bits
  });
});
