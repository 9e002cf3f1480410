/**
 * A deterministic truncated SVD in f64, for low-rank views of a weight difference (extract-lora):
 * subspace iteration on a fixed pseudo-random start (Halko, Martinsson & Tropp 2011, alg. 4.4), then a
 * one-sided Jacobi SVD (Hestenes) of the small projected matrix. The same input gives the same bits.
 */
import { mulberry32 } from './random';

export interface TruncatedSvd {
  /** Singular values, descending, `k` of them. */
  s: Float64Array;
  /** Left singular vectors, [rows, k] row-major. */
  u: Float64Array;
  /** Right singular vectors transposed, [k, cols] row-major. */
  vt: Float64Array;
  k: number;
}

/** A fixed start, so the result does not depend on chance. */
function startMatrix(rows: number, cols: number): Float64Array {
  const next = mulberry32(0x5eed);
  return Float64Array.from({ length: rows * cols }, () => next() - 0.5);
}

/** C = A·B, A [m, n], B [n, p]. */
function matmul(a: Float64Array, b: Float64Array, m: number, n: number, p: number): Float64Array {
  const c = new Float64Array(m * p);
  for (let i = 0; i < m; i++) {
    const ci = i * p;
    for (let t = 0; t < n; t++) {
      const ait = a[i * n + t];
      if (ait === 0) continue;
      const bt = t * p;
      for (let j = 0; j < p; j++) c[ci + j] += ait * b[bt + j];
    }
  }
  return c;
}

/** C = Aᵀ·B, A [m, n], B [m, p] → [n, p]. */
function matmulTransA(a: Float64Array, b: Float64Array, m: number, n: number, p: number): Float64Array {
  const c = new Float64Array(n * p);
  for (let t = 0; t < m; t++) {
    const bt = t * p;
    for (let i = 0; i < n; i++) {
      const ati = a[t * n + i];
      if (ati === 0) continue;
      const ci = i * p;
      for (let j = 0; j < p; j++) c[ci + j] += ati * b[bt + j];
    }
  }
  return c;
}

/** Orthonormalises the columns of Y [m, p] in place (Gram-Schmidt, twice); columns that vanish become 0. */
function orthonormalize(y: Float64Array, m: number, p: number): void {
  for (let j = 0; j < p; j++) {
    let before = 0;
    for (let i = 0; i < m; i++) before += y[i * p + j] ** 2;
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < j; q++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += y[i * p + j] * y[i * p + q];
        for (let i = 0; i < m; i++) y[i * p + j] -= dot * y[i * p + q];
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += y[i * p + j] ** 2;
    // What is left after removing the earlier directions is rounding noise: no new direction.
    const keep = norm > 1e-24 * Math.max(before, 1e-300) && norm > 0;
    const inv = keep ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < m; i++) y[i * p + j] *= inv;
  }
}

/**
 * One-sided Jacobi on C [n, p] (columns rotated until orthogonal): C·J = V·Σ. Returns J [p, p] and
 * leaves the rotated columns in C.
 */
function jacobiColumns(c: Float64Array, n: number, p: number): Float64Array {
  const j = new Float64Array(p * p);
  for (let i = 0; i < p; i++) j[i * p + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let a = 0; a < p - 1; a++) {
      for (let b = a + 1; b < p; b++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < n; i++) {
          const x = c[i * p + a];
          const y = c[i * p + b];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        for (let i = 0; i < n; i++) {
          const x = c[i * p + a];
          const y = c[i * p + b];
          c[i * p + a] = cs * x - sn * y;
          c[i * p + b] = sn * x + cs * y;
        }
        for (let i = 0; i < p; i++) {
          const x = j[i * p + a];
          const y = j[i * p + b];
          j[i * p + a] = cs * x - sn * y;
          j[i * p + b] = sn * x + cs * y;
        }
      }
    }
    if (!rotated) break;
  }
  return j;
}

/**
 * The `k` largest singular triplets of D [rows, cols] (row-major). `oversample` extra directions and
 * `powerIterations` passes make the leading subspace exact for a matrix of rank ≤ k and accurate when
 * the spectrum decays.
 */
export function truncatedSvd(d: Float64Array, rows: number, cols: number, k: number, opts: { oversample?: number; powerIterations?: number } = {}): TruncatedSvd {
  const small = Math.min(rows, cols);
  k = Math.min(k, small);
  const p = Math.min(small, k + (opts.oversample ?? 10));
  const iterations = opts.powerIterations ?? 3;
  let q = matmul(d, startMatrix(cols, p), rows, cols, p); // [rows, p]
  orthonormalize(q, rows, p);
  for (let it = 0; it < iterations; it++) {
    const z = matmulTransA(d, q, rows, cols, p); // [cols, p]
    orthonormalize(z, cols, p);
    q = matmul(d, z, rows, cols, p);
    orthonormalize(q, rows, p);
  }
  // Bᵀ = Dᵀ·Q [cols, p]; Jacobi gives Bᵀ·J = V·Σ, so B = J·Σ·Vᵀ and D ≈ (Q·J)·Σ·Vᵀ.
  const bt = matmulTransA(d, q, rows, cols, p);
  const j = jacobiColumns(bt, cols, p);
  const norms = new Float64Array(p);
  for (let c = 0; c < p; c++) {
    let s = 0;
    for (let i = 0; i < cols; i++) s += bt[i * p + c] ** 2;
    norms[c] = Math.sqrt(s);
  }
  const order = [...norms.keys()].sort((a, b) => norms[b] - norms[a] || a - b).slice(0, k);
  const qj = matmul(q, j, rows, p, p); // [rows, p]
  const s = new Float64Array(k);
  const u = new Float64Array(rows * k);
  const vt = new Float64Array(k * cols);
  order.forEach((c, r) => {
    const sigma = norms[c];
    s[r] = sigma;
    for (let i = 0; i < rows; i++) u[i * k + r] = qj[i * p + c];
    if (sigma > 0) for (let i = 0; i < cols; i++) vt[r * cols + i] = bt[i * p + c] / sigma;
  });
  return { s, u, vt, k };
}
