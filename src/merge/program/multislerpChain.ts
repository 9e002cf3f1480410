/**
 * multislerp's element chain (methods/multislerp.ts), in one place for its CPU passes and element pass and for
 * the blocked sums that compute its statistics on either backend (tensorStats.ts `chain`; the GPU's twin
 * is shaders/merge/multislerp.wgsl). Over the unit vectors uᵢ = f32(vᵢ / f32(‖vᵢ‖ + eps)) and
 * the weights wᵢ, f32 steps in model order:
 *   m = Σ f32(uᵢ·wᵢ) (from the first term);  m̂ = f32(m / ‖m‖);
 *   r = Σ f32(f32(uᵢ − f32(pᵢ·m̂))·wᵢ) with pᵢ = Σ f32(uᵢ·m̂) over the tensor (the tangent at m̂).
 */

const fr = Math.fround;

/** How far along the chain a statistic reads: m (weights alone), m̂ (with meanNorm), r (with projections too). */
export interface MultislerpChain {
  /** wᵢ, f32. */
  weights: readonly number[];
  /** ‖m‖ (f32): the chain goes on to m̂. */
  meanNorm?: number;
  /** pᵢ (f32), with meanNorm: the chain goes on to the tangent r. */
  projections?: readonly number[];
}

/** m at element e of the unit vectors u. */
export function chainMean(u: readonly ArrayLike<number>[], e: number, w: readonly number[]): number {
  let m = fr(u[0][e] * w[0]);
  for (let k = 1; k < u.length; k++) m = fr(m + fr(u[k][e] * w[k]));
  return m;
}

/** r at element e, given m̂ there. */
export function chainTangent(u: readonly ArrayLike<number>[], e: number, w: readonly number[], p: ArrayLike<number>, mhat: number): number {
  let r = fr(fr(u[0][e] - fr(p[0] * mhat)) * w[0]);
  for (let k = 1; k < u.length; k++) r = fr(r + fr(fr(u[k][e] - fr(p[k] * mhat)) * w[k]));
  return r;
}

/** The chain's last vector — m, m̂ or r, as `chain` says — over elements [0, count), into `out`. */
export function chainVector(u: readonly ArrayLike<number>[], count: number, chain: MultislerpChain, out: Float32Array): void {
  const w = chain.weights;
  const { meanNorm, projections } = chain;
  for (let e = 0; e < count; e++) {
    const m = chainMean(u, e, w);
    if (meanNorm === undefined) {
      out[e] = m;
      continue;
    }
    const mhat = fr(m / meanNorm);
    out[e] = projections === undefined ? mhat : chainTangent(u, e, w, projections, mhat);
  }
}

/** Which vector a chain ends with: m, m̂ or r. */
export type ChainStage = 'mean' | 'direction' | 'tangent';

export function chainStage(chain: MultislerpChain): ChainStage {
  if (chain.meanNorm === undefined) return 'mean';
  return chain.projections === undefined ? 'direction' : 'tangent';
}
