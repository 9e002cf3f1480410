/**
 * Non-negative least squares (Lawson & Hanson), on the normal equations: minimise ‖Ax − b‖ with
 * x ≥ 0, given G = AᵀA (k×k, row-major) and c = Aᵀb. Used to ask "is this column a weighted mean of
 * the others?", so k is small (tens) and the Gram matrix is computed once per table.
 */
export function nnlsNormal(G: Float64Array, c: Float64Array, k: number, maxIterations = 30 * k + 30): Float64Array {
  const x = new Float64Array(k);
  const passive = new Array<boolean>(k).fill(false);
  const tol = 1e-10 * Math.max(1, maxAbs(c));
  const gradient = (): Float64Array => {
    const w = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      let s = c[i];
      for (let j = 0; j < k; j++) s -= G[i * k + j] * x[j];
      w[i] = s;
    }
    return w;
  };
  for (let outer = 0; outer < maxIterations; outer++) {
    const w = gradient();
    let best = -1;
    let bestW = tol;
    for (let i = 0; i < k; i++)
      if (!passive[i] && w[i] > bestW) {
        bestW = w[i];
        best = i;
      }
    if (best < 0) break;
    passive[best] = true;
    for (let inner = 0; inner < maxIterations; inner++) {
      const idx = passive.map((p, i) => (p ? i : -1)).filter((i) => i >= 0);
      const z = solveSubsystem(G, c, k, idx);
      if (!z) {
        passive[best] = false;
        return x;
      }
      if (idx.every((_, t) => z[t] > 0)) {
        x.fill(0);
        idx.forEach((i, t) => (x[i] = z[t]));
        break;
      }
      let alpha = Infinity;
      idx.forEach((i, t) => {
        if (z[t] <= 0) alpha = Math.min(alpha, x[i] / (x[i] - z[t]));
      });
      idx.forEach((i, t) => {
        x[i] += alpha * (z[t] - x[i]);
        if (x[i] <= 1e-14) {
          x[i] = 0;
          passive[i] = false;
        }
      });
    }
  }
  return x;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** Solves G[idx,idx] z = c[idx] by Gaussian elimination with partial pivoting; null when singular. */
function solveSubsystem(G: Float64Array, c: Float64Array, k: number, idx: number[]): Float64Array | null {
  const m = idx.length;
  const a = new Float64Array(m * (m + 1));
  for (let r = 0; r < m; r++) {
    for (let s = 0; s < m; s++) a[r * (m + 1) + s] = G[idx[r] * k + idx[s]];
    a[r * (m + 1) + m] = c[idx[r]];
  }
  const scale = Math.max(1e-300, ...idx.map((i) => Math.abs(G[i * k + i])));
  for (let col = 0; col < m; col++) {
    let piv = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(a[r * (m + 1) + col]) > Math.abs(a[piv * (m + 1) + col])) piv = r;
    if (Math.abs(a[piv * (m + 1) + col]) < 1e-12 * scale) return null;
    if (piv !== col)
      for (let s = 0; s <= m; s++) {
        const t = a[col * (m + 1) + s];
        a[col * (m + 1) + s] = a[piv * (m + 1) + s];
        a[piv * (m + 1) + s] = t;
      }
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const f = a[r * (m + 1) + col] / a[col * (m + 1) + col];
      if (f === 0) continue;
      for (let s = col; s <= m; s++) a[r * (m + 1) + s] -= f * a[col * (m + 1) + s];
    }
  }
  const z = new Float64Array(m);
  for (let r = 0; r < m; r++) z[r] = a[r * (m + 1) + m] / a[r * (m + 1) + r];
  return z;
}
