/**
 * CPU twins of the forward pass's kernels: plain f32 functions on row-major Float32Arrays, written for
 * clarity first. They are the reference the WGSL kernels (shaders/model) are tested against, and are
 * themselves checked against llama.cpp (test/model/llamaReferee.test.ts). Sums are accumulated in double
 * precision and stored as f32.
 */
import type { RopeScaling } from '../types';

/** out[r] = w · x[r] / sqrt(mean(x[r]²) + eps), for `rows` rows of `dim` values (in place when out === x). */
export function rmsNorm(x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number, out: Float32Array = new Float32Array(rows * dim)): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    // transformers computes the scale in f32: rsqrt(variance + eps) of an f32 variance.
    const scale = 1 / Math.sqrt(Math.fround(Math.fround(ss / dim) + eps));
    for (let i = 0; i < dim; i++) out[o + i] = weight[i] * Math.fround(x[o + i] * scale);
  }
  return out;
}

/** y = x · Wᵀ: x is [rows, k], W is [m, k] (PyTorch's Linear layout), y is [rows, m]. */
export function matmul(x: Float32Array, w: Float32Array, rows: number, k: number, m: number, out: Float32Array = new Float32Array(rows * m)): Float32Array {
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    for (let j = 0; j < m; j++) {
      const wo = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < k; i += 4) {
        s0 += x[xo + i] * w[wo + i];
        s1 += x[xo + i + 1] * w[wo + i + 1];
        s2 += x[xo + i + 2] * w[wo + i + 2];
        s3 += x[xo + i + 3] * w[wo + i + 3];
      }
      for (; i < k; i++) s0 += x[xo + i] * w[wo + i];
      out[r * m + j] = s0 + s1 + (s2 + s3);
    }
  }
  return out;
}

/** x[r] += bias, for `rows` rows of bias.length values, in place. */
export function addBias(x: Float32Array, bias: Float32Array, rows: number): Float32Array {
  const m = bias.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) x[r * m + j] += bias[j];
  return x;
}

/** RoPE's unscaled inverse frequencies 1/θ^(2i/d), i < d/2, in f32 as transformers computes them. */
function baseInvFreq(headDim: number, theta: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  return out;
}

/**
 * Llama 3's rescaling of frequency i: the factor its inverse frequency is divided by. Wavelengths shorter
 * than original_max/high_freq_factor keep theirs (1), longer than original_max/low_freq_factor are divided by
 * `factor`, and the band between is interpolated (transformers' _compute_llama3_parameters; llama.cpp's
 * converter stores these divisors as rope_freqs.weight).
 */
export function llama3RopeFactors(headDim: number, theta: number, scaling: RopeScaling): Float32Array {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldCtx } = scaling;
  const lowFreqWavelen = oldCtx / lowFreqFactor;
  const highFreqWavelen = oldCtx / highFreqFactor;
  return baseInvFreq(headDim, theta).map((invFreq) => {
    const wavelen = (2 * Math.PI) / invFreq;
    if (wavelen < highFreqWavelen) return 1;
    if (wavelen > lowFreqWavelen) return factor;
    const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return 1 / ((1 - smooth) / factor + smooth);
  });
}

/** RoPE inverse frequencies, with Llama 3's rescaling when given (as transformers computes them). */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const invFreq = baseInvFreq(headDim, theta);
  if (scaling === null) return invFreq;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldCtx } = scaling;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < oldCtx / highFreqFactor) return f;
    if (wavelen > oldCtx / lowFreqFactor) return f / factor;
    const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/**
 * Rotary embedding in place, Hugging Face style (rotate_half: element i pairs with i + d/2):
 * x' = x·cos(pθ) + rotate_half(x)·sin(pθ). `x` is [rows, heads, headDim]; row r is at position startPos + r.
 */
export function rope(x: Float32Array, rows: number, heads: number, headDim: number, invFreq: Float32Array, startPos = 0): Float32Array {
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const pos = startPos + r;
    for (let i = 0; i < half; i++) {
      // transformers: freqs = position (f32) × inv_freq (f32) in f32, then cos/sin.
      const angle = Math.fround(pos * invFreq[i]);
      const cos = Math.fround(Math.cos(angle));
      const sin = Math.fround(Math.sin(angle));
      for (let h = 0; h < heads; h++) {
        const o = (r * heads + h) * headDim;
        const a = x[o + i];
        const b = x[o + i + half];
        x[o + i] = a * cos - b * sin;
        x[o + i + half] = b * cos + a * sin;
      }
    }
  }
  return x;
}

/**
 * Causal grouped-query attention. q is [qRows, heads, d]; k and v are [kvRows, kvHeads, d] with
 * kvRows = pastRows + qRows (a cache followed by the new rows). Query row r sits at position pastRows + r
 * and sees keys 0..pastRows + r. Query head h reads kv head floor(h / (heads / kvHeads)). Returns
 * [qRows, heads, d]; scores scaled by 1/√d, softmax with the maximum subtracted.
 */
export function causalAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  qRows: number,
  pastRows: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  out: Float32Array = new Float32Array(qRows * heads * headDim),
): Float32Array {
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(pastRows + qRows);
  const acc = new Float64Array(headDim);
  for (let r = 0; r < qRows; r++) {
    const visible = pastRows + r + 1;
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      const qo = (r * heads + h) * headDim;
      let max = -Infinity;
      for (let t = 0; t < visible; t++) {
        const ko = (t * kvHeads + kvh) * headDim;
        let s = 0;
        for (let i = 0; i < headDim; i++) s += q[qo + i] * k[ko + i];
        s *= scale;
        scores[t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t < visible; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      acc.fill(0);
      for (let t = 0; t < visible; t++) {
        const p = scores[t] / sum;
        const vo = (t * kvHeads + kvh) * headDim;
        for (let i = 0; i < headDim; i++) acc[i] += p * v[vo + i];
      }
      for (let i = 0; i < headDim; i++) out[qo + i] = acc[i];
    }
  }
  return out;
}

/** SwiGLU: silu(gate) · up, element-wise (silu(x) = x / (1 + e^−x)). */
export function swiglu(gate: Float32Array, up: Float32Array, out: Float32Array = new Float32Array(gate.length)): Float32Array {
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
  return out;
}

/** Natural-log softmax of each of `rows` rows of `cols` logits (max subtracted, log-sum-exp in double). */
export function logSoftmax(logits: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(rows * cols)): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logits[o + j] - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < cols; j++) out[o + j] = logits[o + j] - lse;
  }
  return out;
}

/** Rows of the embedding table for `ids`: [ids.length, dim]. */
export function embed(table: Float32Array, ids: ArrayLike<number>, dim: number, out: Float32Array = new Float32Array(ids.length * dim)): Float32Array {
  for (let r = 0; r < ids.length; r++) out.set(table.subarray(ids[r] * dim, (ids[r] + 1) * dim), r * dim);
  return out;
}

/** a += b, element-wise, in place (the residual connection). */
export function addInPlace(a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}
