/**
 * An independent f32 reference of mergekit's merge methods, written for these tests from mergekit's
 * Python (arcee-ai/mergekit a6e4028: merge_methods/*.py, sparsify.py): whole tensors in memory, one
 * torch operation at a time, each rounded to f32 (Math.fround); a reduction sums in f64 in element
 * order and rounds once (`(x*y).sum()` sums the f32 products, a norm exact squares); sorts by
 * Array.prototype.sort. Nothing here calls SoupLab's engine.
 *
 * Where torch leaves an order open (equal keys in argsort/topk), this reference sorts stably by
 * element index — the convention SoupLab documents.
 */
const fr = Math.fround;
type V = Float32Array;

const map = (n: number, f: (i: number) => number): V => {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
};
const sub = (a: V, b: V) => map(a.length, (i) => a[i] - b[i]);
const scale = (a: V, s: number) => map(a.length, (i) => a[i] * s);
const add = (a: V, b: V) => map(a.length, (i) => a[i] + b[i]);
const sumF64 = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const dot = (a: V, b: V) => fr(sumF64(map(a.length, (i) => a[i] * b[i]).map((x) => x)));
const dotExact = (a: V, b: V) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const norm = (a: V) => fr(Math.sqrt(dotExact(a, a)));
/** torch.stack(xs).sum(0): in model order. */
const sumModels = (xs: V[]) => xs.slice(1).reduce((acc, x) => add(acc, x), xs[0]);

// ---- sparsify.py ----

function rescaled(t: V, mask: V, rescale: boolean): V {
  const masked = map(t.length, (i) => t[i] * mask[i]);
  if (!rescale) return masked;
  const before = fr(sumF64(map(t.length, (i) => Math.abs(t[i]))));
  const after = fr(sumF64(map(t.length, (i) => Math.abs(masked[i]))));
  if (before < 1e-7 || after < 1e-7) return masked;
  return scale(masked, fr(before / after));
}

export function magnitude(t: V, density: number, rescale: boolean): V {
  if (density >= 1) return t;
  const k = Math.trunc(density * t.length);
  if (k <= 0) throw new Error('not gonna zero out the whole tensor buddy');
  // argsort(|t|, descending)[:k], equal magnitudes: higher index first (the stable ascending order, reversed)
  const idx = Array.from(t, (_, i) => i).sort((a, b) => Math.abs(t[b]) - Math.abs(t[a]) || b - a);
  const mask = new Float32Array(t.length);
  for (const i of idx.slice(0, k)) mask[i] = 1;
  return rescaled(t, mask, rescale);
}

export function magnitudeOutliers(t: V, density: number, rescale: boolean, gamma: number): V {
  if (density >= 1) return t;
  const n = t.length;
  const target = Math.trunc(density * n);
  let nTop = Math.trunc(gamma * n);
  let nBot = n - target - nTop;
  if (nBot < 0) {
    nTop += nBot;
    nBot = 0;
  }
  const idx = Array.from(t, (_, i) => i).sort((a, b) => Math.abs(t[a]) - Math.abs(t[b]) || a - b);
  const mask = new Float32Array(n);
  for (const i of idx.slice(nBot, n - nTop)) mask[i] = 1; // mergekit writes [n_bot:-n_top]; -0 would keep none
  return rescaled(t, mask, rescale);
}

// ---- generalized_task_arithmetic.py ----

export interface GtaOptions {
  consensus: boolean;
  sparsify?: 'magnitude' | 'magnitude_outliers';
  normalize: boolean;
  rescale: boolean;
  lambda: number;
  weights: number[];
  densities: number[];
  gamma?: number;
}

export function taskArithmeticFamily(base: V, xs: V[], o: GtaOptions): V {
  if (xs.length === 0) return base;
  let deltas = xs.map((x) => sub(x, base));
  if (o.sparsify) {
    deltas = deltas.map((d, j) =>
      o.sparsify === 'magnitude' ? magnitude(d, o.densities[j], o.rescale) : magnitudeOutliers(d, o.densities[j], o.rescale, o.gamma ?? 0.01),
    );
  }
  const w = o.weights.map(fr);
  const weighted = deltas.map((d, j) => scale(d, w[j]));
  let mixed: V;
  let divisor: V;
  if (o.consensus) {
    const s = sumModels(weighted);
    const majority = map(base.length, (i) => (s[i] >= 0 ? 1 : -1));
    const masks = weighted.map((wd) => map(base.length, (i) => (Math.sign(wd[i]) === majority[i] && wd[i] !== 0 ? 1 : 0)));
    mixed = sumModels(weighted.map((wd, j) => map(base.length, (i) => wd[i] * masks[j][i])));
    divisor = sumModels(masks.map((m, j) => map(base.length, (i) => w[j] * m[i])));
    divisor = map(base.length, (i) => (divisor[i] === 0 ? 1 : divisor[i]));
  } else {
    mixed = sumModels(weighted);
    let ws = w[0];
    for (let j = 1; j < w.length; j++) ws = fr(ws + w[j]);
    const d = Math.abs(ws) < 1e-8 ? 1 : ws;
    divisor = map(base.length, () => d);
  }
  if (o.normalize) mixed = map(base.length, (i) => mixed[i] / divisor[i]);
  if (o.lambda !== 1) mixed = scale(mixed, fr(o.lambda));
  return add(base, mixed);
}

// ---- slerp.py (numpy, f32) ----

export function slerp(t: number, v0: V, v1: V): V {
  const eps = 1e-8;
  const n0 = norm(v0);
  const n1 = norm(v1);
  const u0 = n0 > eps ? map(v0.length, (i) => v0[i] / n0) : v0;
  const u1 = n1 > eps ? map(v1.length, (i) => v1[i] / n1) : v1;
  const d = dot(u0, u1);
  if (Math.abs(d) > 0.9995) return add(scale(v0, fr(1 - t)), scale(v1, fr(t)));
  const theta0 = fr(Math.acos(d));
  const sin0 = fr(Math.sin(theta0));
  const thetaT = fr(theta0 * fr(t));
  const s0 = fr(fr(Math.sin(fr(theta0 - thetaT))) / sin0);
  const s1 = fr(fr(Math.sin(thetaT)) / sin0);
  return add(scale(v0, s0), scale(v1, s1));
}

// ---- nuslerp.py (flatten; torch f32) ----

export function nuslerp(w: [number, number], a: V, b: V, base?: V): V {
  const t = Math.abs(w[0] + w[1]) < 1e-6 ? 0.5 : w[1] / (w[0] + w[1]);
  const v0 = base ? sub(a, base) : a;
  const v1 = base ? sub(b, base) : b;
  const u0 = map(v0.length, (i) => v0[i] / Math.max(norm(v0), fr(1e-7)));
  const u1 = map(v1.length, (i) => v1[i] / Math.max(norm(v1), fr(1e-7)));
  const cos = Math.min(1, Math.max(-1, dot(u0, u1)));
  const theta = fr(Math.acos(cos));
  const sin = fr(Math.sin(theta));
  let res: V;
  if (Math.abs(sin) < 1e-8) res = add(scale(v0, fr(1 - t)), scale(v1, fr(t)));
  else {
    const sa = fr(Math.sin(fr(fr(1 - t) * theta)));
    const sb = fr(Math.sin(fr(fr(t) * theta)));
    const s = add(scale(v0, sa), scale(v1, sb));
    res = map(s.length, (i) => s[i] / sin);
  }
  return base ? add(base, res) : res;
}

/**
 * A method applied to each row (the last dimension) or each column (torch's transpose(0, −1), then the
 * last dimension: every index but the first) of a tensor on its own, as nuslerp without flatten and
 * model_stock's filter_wise do; a 1-D tensor is one line.
 */
export function byLines(shape: number[], grouping: 'row' | 'column', xs: V[], f: (lines: V[]) => V): V {
  const numel = xs[0].length;
  if (shape.length < 2) return f(xs);
  const [count, length, at] =
    grouping === 'row'
      ? [numel / shape[shape.length - 1], shape[shape.length - 1], (l: number, k: number) => l * shape[shape.length - 1] + k]
      : [numel / shape[0], shape[0], (l: number, k: number) => l + k * (numel / shape[0])];
  const out = new Float32Array(numel);
  for (let l = 0; l < count; l++) {
    const r = f(xs.map((x) => map(length, (k) => x[at(l, k)])));
    for (let k = 0; k < length; k++) out[at(l, k)] = r[k];
  }
  return out;
}

// ---- multislerp.py ----

export function multislerp(xs: V[], weight: number[], base?: V, normalizeWeights = true, eps = 1e-8): V {
  if (xs.length === 1) return xs[0];
  const ts = base ? xs.map((x) => sub(x, base)) : xs;
  let w = weight.map(fr);
  if (normalizeWeights) {
    const s = w.slice(1).reduce((a, b) => fr(a + b), w[0]);
    w = w.map((x) => fr(x / s));
  }
  const fe = fr(eps);
  const norms = ts.map(norm);
  const units = ts.map((t, k) => map(t.length, (i) => t[i] / fr(norms[k] + fe)));
  const mean = sumModels(units.map((u, k) => scale(u, w[k])));
  const meanNorm = norm(mean);
  if (meanNorm < eps) {
    const r = add(scale(ts[0], w[0]), scale(ts[1], w[1]));
    return base ? add(r, base) : r;
  }
  const mhat = map(mean.length, (i) => mean[i] / meanNorm);
  const dots = units.map((u) => dot(u, mhat));
  const tangents = units.map((u, k) => map(u.length, (i) => u[i] - fr(dots[k] * mhat[i])));
  const tr = sumModels(tangents.map((tg, k) => scale(tg, w[k])));
  const tn = fr(norm(tr) + fe);
  let result = add(scale(mhat, fr(Math.cos(tn))), scale(tr, fr(fr(Math.sin(tn)) / tn)));
  const avgNorm = norms.map((nrm, k) => fr(nrm * w[k])).reduce((a, b) => fr(a + b));
  result = scale(result, avgNorm);
  return base ? add(result, base) : result;
}

// ---- karcher.py (f32 tensors) ----

export function karcher(tensors: V[], maxIter = 10, tol = 1e-5): V {
  if (tensors.length === 1) return tensors[0];
  const alphas = tensors.map(() => 1 / tensors.length);
  const norms = tensors.map(norm);
  const units = tensors.map((t, i) => (norms[i] === 0 ? new Float32Array(t.length) : map(t.length, (e) => t[e] / norms[i])));
  const valid = norms.map((n, i) => (n > tol ? i : -1)).filter((i) => i >= 0);
  if (valid.length === 0) return new Float32Array(tensors[0].length);
  const aSum = valid.reduce((s, i) => s + alphas[i], 0);
  const a = valid.map((i) => alphas[i] / aSum);
  const us = valid.map((i) => units[i]);
  let u: V = new Float32Array(us[0].length);
  us.forEach((ui, k) => (u = add(u, scale(ui, fr(a[k])))));
  const nu = norm(u);
  u = nu < tol ? us[0].slice() : map(u.length, (i) => u[i] / nu);
  for (let it = 0; it < maxIter; it++) {
    let T: V = new Float32Array(u.length);
    us.forEach((ui, k) => {
      const d = Math.min(1, Math.max(-1, dot(u, ui)));
      const theta = fr(Math.acos(d));
      if (theta < tol) return;
      const coef = fr(fr(a[k]) * fr(theta / fr(Math.sin(theta))));
      const diff = map(u.length, (i) => ui[i] - fr(d * u[i]));
      T = add(T, scale(diff, coef));
    });
    const nT = norm(T);
    if (nT < tol) break;
    const c = fr(Math.cos(nT));
    const s = fr(Math.sin(nT));
    u = add(scale(u, c), scale(map(T.length, (i) => T[i] / nT), s));
    const un = norm(u);
    if (un > tol) u = map(u.length, (i) => u[i] / un);
  }
  let total = 0;
  alphas.forEach((al, i) => (total += al * norms[i]));
  return scale(u, fr(total));
}

// ---- model_stock.py (filter_wise false) ----

export function modelStock(w0: V, ws: V[]): V {
  const offsets = ws.map((w) => sub(w, w0));
  const cos: number[] = [];
  for (let i = 0; i < offsets.length; i++) {
    for (let j = i + 1; j < offsets.length; j++) {
      const np = fr(norm(offsets[i]) * norm(offsets[j]));
      cos.push(Math.min(1, Math.max(-1, fr(dot(offsets[i], offsets[j]) / Math.max(np, fr(1e-6))))));
    }
  }
  const c = fr(cos.slice(1).reduce((s, x) => fr(s + x), cos[0]) / cos.length);
  const N = ws.length;
  const t = fr(fr(N * c) / fr(1 + fr((N - 1) * c)));
  let sum: V = new Float32Array(w0.length);
  for (const w of ws) sum = add(sum, w);
  const avg = map(sum.length, (i) => sum[i] / N);
  return add(scale(avg, t), scale(w0, fr(1 - t)));
}

// ---- sce.py ----

export function sce(base: V, xs: V[], selectTopk: number): V {
  if (xs.length === 0) return base;
  const n = xs.length;
  let tvs = xs.map((x) => sub(x, base));
  if (selectTopk < 1) {
    const numel = base.length;
    const mean = map(numel, (i) => fr(tvs.map((t) => t[i]).reduce((a, b) => fr(a + b)) / n));
    const variance = map(numel, (i) => fr(tvs.map((t) => fr(fr(t[i] - mean[i]) ** 2)).reduce((a, b) => fr(a + b)) / n));
    const nonzero = Array.from(variance).filter((v) => v !== 0).length;
    const k = Math.trunc(nonzero * selectTopk);
    const mask = new Float32Array(numel);
    if (selectTopk > 0 && k > 0) {
      const idx = Array.from(variance, (_, i) => i).sort((a, b) => Math.abs(variance[b]) - Math.abs(variance[a]) || b - a);
      for (const i of idx.slice(0, k)) mask[i] = 1;
    }
    if (selectTopk <= 0 || k === 0) mask.fill(0);
    tvs = tvs.map((t) => map(numel, (i) => t[i] * mask[i]));
  }
  const s = sumModels(tvs);
  const erase = tvs.map((t) => map(base.length, (i) => (t[i] !== 0 && Math.sign(t[i]) === (s[i] >= 0 ? 1 : -1) ? 1 : 0)));
  const means = tvs.map((t) => fr(sumF64(map(t.length, (i) => t[i] * t[i])) / t.length));
  const total = fr(sumF64(means));
  const weights = means.map((m) => (Math.abs(total) < 1e-6 ? fr(1 / n) : fr(m / total)));
  const erased = erase.map((e, k) => scale(e, weights[k]));
  const merged = sumModels(tvs.map((t, k) => map(t.length, (i) => t[i] * erased[k][i])));
  const den = sumModels(erased);
  return add(base, map(base.length, (i) => merged[i] / Math.max(den[i], fr(1e-6))));
}

// ---- nearswap.py, ram.py (ram, ramplus_tl), passthrough.py ----

export function nearswap(t: number, a: V, b: V): V {
  return map(a.length, (i) => {
    const d = Math.abs(fr(a[i] - b[i]));
    const c = d < fr(1e-6) ? fr(1e-6) : d;
    const w = Math.min(1, Math.max(0, fr(fr(t) / c)));
    return fr(w * b[i]) + fr(fr(1 - w) * a[i]);
  });
}

export function ram(base: V, xs: V[], epsilon = 1e-5): V {
  if (xs.length === 0) return base;
  const tvs = xs.map((x) => sub(x, base));
  const nz = tvs.map((t) => map(t.length, (i) => (Math.abs(t[i]) > fr(epsilon) ? 1 : 0)));
  const counts = sumModels(nz);
  const tvz = tvs.map((t, k) => map(t.length, (i) => t[i] * nz[k][i]));
  const terms = tvz.map((t) => map(t.length, (i) => fr(t[i] * (counts[i] === 1 ? 1 : 0)) + fr(fr(t[i] * (counts[i] > 1 ? 1 : 0)) / Math.max(counts[i], 1))));
  return add(base, sumModels(terms));
}

/** ram.py ramplus_tl_merge: RAM with each model's unique deltas scaled by λ = 1 + r·clamp(shared / max(unique, ε), 0, α). */
export function ramplusTl(base: V, xs: V[], r = 0.1, alpha = 0.2, epsilon = 1e-5): V {
  if (xs.length === 0) return base;
  const eps = fr(epsilon);
  const tvs = xs.map((x) => sub(x, base));
  const nz = tvs.map((t) => map(t.length, (i) => (Math.abs(t[i]) > eps ? 1 : 0)));
  const counts = sumModels(nz);
  // (nonzero & overlap).sum(dim=1), (nonzero & unique).sum(dim=1): int64 counts
  const shared = nz.map((m) => m.reduce((s, v, i) => s + (v && counts[i] > 1 ? 1 : 0), 0));
  const unique = nz.map((m) => m.reduce((s, v, i) => s + (v && counts[i] === 1 ? 1 : 0), 0));
  const lambdas = xs.map((_, k) => {
    const rho = fr(fr(shared[k]) / Math.max(fr(unique[k]), eps));
    return fr(1 + fr(fr(r) * Math.min(Math.max(rho, 0), fr(alpha))));
  });
  const tvz = tvs.map((t, k) => map(t.length, (i) => t[i] * nz[k][i]));
  const terms = tvz.map((t, k) => map(t.length, (i) => fr(fr(t[i] * (counts[i] === 1 ? 1 : 0)) * lambdas[k]) + fr(fr(t[i] * (counts[i] > 1 ? 1 : 0)) / Math.max(counts[i], 1))));
  return add(base, sumModels(terms));
}

// ---- arcee_fusion.py ----

/** torch.softmax over a row (last dimension, CPU), f32 steps: e = exp(v − max), e·f32(1 / Σe) (Σ in f64, rounded once). */
function softmaxRow(v: V): V {
  const max = v.reduce((m, x) => (x > m || Number.isNaN(x) ? x : m), -Infinity);
  const e = map(v.length, (k) => Math.exp(fr(v[k] - max)));
  const inverse = fr(1 / fr(sumF64(e)));
  return map(v.length, (k) => e[k] * inverse);
}

/**
 * arcee_fusion.py: importance = |x − b|·KL(softmax(x) + 1e-8 ‖ softmax(b) + 1e-8) per row (the last
 * dimension); threshold = median + 1.5·IQR of the sorted importances at ⌊q·(n − 1)⌋ (every element:
 * mergekit samples only above 1e6); out = b + (x − b)·[importance ≥ threshold].
 */
export function arceeFusion(base: V, x: V, shape: number[]): V {
  const C = shape.length === 0 ? 1 : shape[shape.length - 1];
  const eps = fr(1e-8);
  const n = base.length;
  const diff = map(n, (i) => Math.abs(fr(x[i] - base[i])));
  const importance = new Float32Array(n);
  for (let row = 0; row * C < n; row++) {
    const xs = x.slice(row * C, row * C + C);
    const bs = base.slice(row * C, row * C + C);
    const p = map(C, (k) => softmaxRow(xs)[k] + eps);
    const q = map(C, (k) => softmaxRow(bs)[k] + eps);
    const kl = fr(sumF64(map(C, (k) => p[k] * fr(Math.log(fr(p[k] / q[k]))))));
    for (let k = 0; k < C; k++) importance[row * C + k] = diff[row * C + k] * kl;
  }
  const sorted = importance.slice().sort(); // numeric, −0 before +0, NaN last: torch.sort's order
  const at = (q: number) => sorted[Math.floor(q * (n - 1))];
  const threshold = fr(at(0.5) + fr(1.5 * fr(at(0.75) - at(0.25))));
  return map(n, (i) => {
    const d = fr(x[i] - base[i]);
    return base[i] + d * (importance[i] >= threshold ? 1 : 0);
  });
}

export function passthroughScaled(x: V, s: number): V {
  return scale(x, fr(s));
}
