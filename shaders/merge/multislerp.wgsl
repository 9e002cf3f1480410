// multislerp's element chain (src/merge/program/multislerpChain.ts, its CPU twin: every f32 step in its
// order), for the statistics (stats.wgsl: the chain's sums, src/merge/gpu/statsShader.ts) and the element
// pass (methodElements.wgsl). Over the unit vectors uᵢ = f32(vᵢ / denᵢ) and the weights wᵢ:
//   m = Σ f32(uᵢ·wᵢ) (from the first term);  m̂ = f32(m / ‖m‖);  r = Σ f32(f32(uᵢ − f32(pᵢ·m̂))·wᵢ).
// src/merge/gpu/wgslModules.ts defines MULTISLERP_MODELS before this file; the kernel provides `opaque`
// (products are opaque so that no compiler fuses them into the additions that follow) and
// shaders/merge/divide.wgsl (quotients correctly rounded, as the CPU's are).

alias MultislerpVectors = array<vec4<f32>, MULTISLERP_MODELS>;
alias MultislerpScalars = array<f32, MULTISLERP_MODELS>;

// m: the weighted mean of the unit vectors.
fn multislerpMean(units: MultislerpVectors, weights: MultislerpScalars) -> vec4<f32> {
  var u = units;
  var w = weights;
  var m = opaque(u[0] * w[0]);
  for (var k = 1u; k < MULTISLERP_MODELS; k++) {
    m = m + opaque(u[k] * w[k]);
  }
  return m;
}

// r: the weighted tangent at m̂, with pᵢ the projections Σ f32(uᵢ·m̂) of the tensor.
fn multislerpTangent(units: MultislerpVectors, weights: MultislerpScalars, projections: MultislerpScalars, mhat: vec4<f32>) -> vec4<f32> {
  var u = units;
  var w = weights;
  var p = projections;
  var r = opaque((u[0] - opaque(p[0] * mhat)) * w[0]);
  for (var k = 1u; k < MULTISLERP_MODELS; k++) {
    r = r + opaque((u[k] - opaque(p[k] * mhat)) * w[k]);
  }
  return r;
}

// The vector a statistics pass sums (multislerpChain.ts chainVector): stage 0 m, 1 m̂, 2 r.
fn multislerpChain(units: MultislerpVectors, stage: u32, weights: MultislerpScalars, meanNorm: f32, projections: MultislerpScalars) -> vec4<f32> {
  let m = multislerpMean(units, weights);
  if (stage == 0u) {
    return m;
  }
  let mhat = divide(m, vec4<f32>(meanNorm));
  if (stage == 1u) {
    return mhat;
  }
  return multislerpTangent(units, weights, projections, mhat);
}

// The element pass (multislerp.ts combine) on the vectors vᵢ (task vectors with a base, which the caller
// adds back): uᵢ = f32(vᵢ / denᵢ); out = f32(f32(f32(m̂·cos ρ) + f32(r·f32(sin ρ/ρ)))·Σ‖vᵢ‖wᵢ), or,
// in the 2-model fallback (`lerp`), f32(v₀·w₀) + f32(v₁·w₁).
fn multislerpMerged(vectors: MultislerpVectors, weights: MultislerpScalars, den: MultislerpScalars, projections: MultislerpScalars, meanNorm: f32, cosRho: f32, sinRatio: f32, avgNorm: f32, lerp: bool) -> vec4<f32> {
  var v = vectors;
  var w = weights;
  if (lerp) {
    return opaque(v[0] * w[0]) + opaque(v[1] * w[1]);
  }
  var d = den;
  var u: MultislerpVectors;
  for (var k = 0u; k < MULTISLERP_MODELS; k++) {
    u[k] = divide(v[k], vec4<f32>(d[k]));
  }
  let mhat = divide(multislerpMean(u, w), vec4<f32>(meanNorm));
  let r = multislerpTangent(u, w, projections, mhat);
  return opaque((opaque(mhat * cosRho) + opaque(r * sinRatio)) * avgNorm);
}
