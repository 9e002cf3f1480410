// The element passes of the merge methods that have neither the task-arithmetic kernel
// (taskArithmetic.wgsl) nor a linear combination (soup.wgsl): slerp, nuslerp, multislerp, model_stock, nearswap, ram,
// sce — once their
// whole-tensor statistics are known. Each function is the twin of its method file's `combine`
// (src/merge/methods/<method>.ts), every f32 step in the same order, and the tests hold the kernel to
// it. Products are opaque (see soup.wgsl) so that no compiler fuses them into the additions that
// follow; quotients are correctly rounded (shaders/merge/divide.wgsl), as the CPU's are. A GPU may flush
// subnormal f32 values to zero.
//
// src/merge/gpu/methodElementsShader.ts appends `main` per job shape (the method, the inputs' dtypes — the
// base first —, the output dtype), straight-line over the models.

struct Params {
  blockCount: u32,   // blocks of 8 elements (per 16-bit input) in this dispatch
  zeroBits: u32,     // always 0; opaque to the compiler
  blocksPerRow: u32,
  unused: u32,
  offsetLo: u32,     // tensor index of this dispatch's first element, 64-bit (selection.wgsl)
  offsetHi: u32,
  linePeriod: u32,   // per-line coefficients: the row length (or the column count)
  lineOffset: u32,   // and this dispatch's first element's position in that period (offset mod linePeriod)
  // The method's scalars as f32 bits, then its selection boundary (key, cut low, cut high), four to a
  // vector (the method's comment says which).
  scalars: array<vec4<u32>, SCALAR_VECTORS>,
}

fn word(i: u32) -> u32 {
  return params.scalars[i / 4u][i % 4u];
}

fn scalar(i: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<f32>(word(i)));
}

// +0, which no compiler may drop from an addition (0 + −0 is +0).
fn positiveZero() -> vec4<f32> {
  return vec4<f32>(bitcast<f32>(params.zeroBits));
}

// ---- slerp's two coefficients (slerp.ts): scalars c₀, c₁; out = f32(c₀·a) + f32(c₁·b).
fn pair(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  return opaque(scalar(0u) * a) + opaque(scalar(1u) * b);
}

// ---- nuslerp (nuslerp.ts): coefficients lerp (1 or 0), a, b, divisor — the scalars (flattened) or the
// element's row's or column's (lineScalar, generated). r = f32(a·v₀) + f32(b·v₁), divided by the divisor
// (sin θ) unless lerping.
fn nuslerpPair(v0: vec4<f32>, v1: vec4<f32>, lerp: vec4<f32>, a: vec4<f32>, b: vec4<f32>, divisor: vec4<f32>) -> vec4<f32> {
  let r = opaque(a * v0) + opaque(b * v1);
  return select(divide(r, divisor), r, lerp == vec4<f32>(1.0));
}

// ---- multislerp (multislerp.ts): shaders/merge/multislerp.wgsl's multislerpMerged; scalars w₀…, den₀…, p₀…,
// ‖m‖, cos ρ, sin ρ/ρ, Σ‖vᵢ‖wᵢ, lerp (1: the 2-model fallback). The generator passes the task vectors
// and adds the base back, or the models themselves.

// ---- model_stock (modelStock.ts): scalars t, f32(1 − t), N (filter_wise: t and 1 − t the element's
// row's, lineScalar). `sum` = Σ xᵢ from +0 in model order. avg = f32(sum / N); out = f32(t·avg) + f32((1 − t)·w₀).
fn modelStock(w0: vec4<f32>, sum: vec4<f32>, t: vec4<f32>, oneMinusT: vec4<f32>) -> vec4<f32> {
  let avg = divide(sum, scalar(2u));
  return opaque(t * avg) + opaque(oneMinusT * w0);
}

// ---- nearswap (nearswap.ts): scalars t, 1e-6 (f32). a the base, b the other model.
// w = clamp(f32(t / max(|a − b|, 1e-6)), 0, 1) (NaN stays NaN, as torch.clamp keeps it);
// out = f32(w·b) + f32(f32(1 − w)·a).
fn nearswap(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let d = abs(a - b);
  let floor = scalar(1u);
  let c = select(d, floor, d < floor);
  let q = divide(scalar(0u), c);
  let w = select(select(q, vec4<f32>(1.0), q > vec4<f32>(1.0)), vec4<f32>(0.0), q < vec4<f32>(0.0));
  return weightTimes(w, b) + opaque((vec4<f32>(1.0) - w) * a);
}

// f32(w·b) for a weight w in [0, 1] (or NaN), also where w is subnormal — t / |a − b| is, for
// |a − b| > t·2¹²⁶ — and a GPU would flush it to zero before multiplying (a huge b makes the product
// normal: the CPU's result). w·2⁶⁴ is normal and exact (the integer significand times 2⁻⁸⁵), and the
// product scaled back by 2⁻⁶⁴ is exact wherever it is normal.
fn weightTimes(w: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let bits = bitcast<vec4<u32>>(w);
  let subnormal = ((bits & vec4<u32>(0x7f800000u)) == vec4<u32>(0u)) & ((bits & vec4<u32>(0x7fffffu)) != vec4<u32>(0u));
  let scaled = opaque(opaque(vec4<f32>(bits & vec4<u32>(0x7fffffu)) * 0x1p-85f) * b) * 0x1p-64f;
  return select(opaque(w * b), scaled, subnormal);
}

// ---- ram (ram.ts): scalar ε. For each model j: δⱼ = f32(xⱼ − b), changed where |δⱼ| > ε (else δⱼ·0);
// with c the number of changed models, termⱼ = f32(δⱼ·[c = 1]) + f32(f32(δⱼ·[c > 1]) / max(c, 1));
// out = f32(b + Σ termⱼ), the sum in model order. The generator calls these per model.
fn ramChanged(d: vec4<f32>) -> vec4<bool> {
  return abs(d) > scalar(0u);
}

fn ramKept(d: vec4<f32>, changed: vec4<bool>) -> vec4<f32> {
  return select(opaque(d * positiveZero()), d, changed);
}

fn ramTerm(tv: vec4<f32>, count: vec4<f32>) -> vec4<f32> {
  let unique = select(vec4<f32>(0.0), vec4<f32>(1.0), count == vec4<f32>(1.0));
  let overlap = select(vec4<f32>(0.0), vec4<f32>(1.0), count > vec4<f32>(1.0));
  return opaque(tv * unique) + divide(opaque(tv * overlap), max(count, vec4<f32>(1.0)));
}

// ---- sce (sce.ts): scalars ω₀ … ωₙ₋₁, 1e-6, n; selecting, the boundary (key, cut low, cut high) after
// them. δⱼ = f32(xⱼ − b). Selecting: an element keeps its deltas iff the key of its variance across the
// δⱼ (`variance`, generated by src/merge/gpu/varianceWgsl.ts) is not below the boundary. Dropped:
// δⱼ·0. Majority sign of s = Σ δⱼ (s ≥ 0: +); eⱼ = f32(ωⱼ·[sign δⱼ = majority]);
// out = f32(b + f32(Σ f32(δⱼ·eⱼ) / max(Σ eⱼ, 1e-6))). The generator calls these per model.
fn sceKept(variance: vec4<f32>, at: Index, boundaryAt: u32) -> vec4<bool> {
  return !isBelow(keyBits(variance), at, vec4<u32>(word(boundaryAt), word(boundaryAt + 1u), word(boundaryAt + 2u), 0u));
}

fn sceMasked(d: vec4<f32>, keep: vec4<bool>) -> vec4<f32> {
  return select(opaque(d * positiveZero()), d, keep);
}

fn sceWeight(d: vec4<f32>, s: vec4<f32>, omega: vec4<f32>) -> vec4<f32> {
  let positive = s >= vec4<f32>(0.0);
  let agree = ((d > vec4<f32>(0.0)) & positive) | ((d < vec4<f32>(0.0)) & !positive);
  return opaque(omega * select(vec4<f32>(0.0), vec4<f32>(1.0), agree));
}

fn sceMerged(b: vec4<f32>, merged: vec4<f32>, weights: vec4<f32>, floor: vec4<f32>) -> vec4<f32> {
  return b + divide(merged, select(floor, weights, weights > floor));
}

// ---- karcher (karcher.ts), its iteration's vectors and its output. The program's scratch s is the last
// input (F32); the iterate is u = f32(s / uDivisor), a model's unit f32(xᵢ / ‖xᵢ‖). Scalars: uDivisor,
// cos‖T‖, sin‖T‖, ‖T‖, the output's scale, then KARCHER_PER_MODEL per model i from KARCHER_MODELS:
// ‖xᵢ‖, valid (1: ‖xᵢ‖ > tol), f32(aᵢ), moving (1: θᵢ ≥ tol), dᵢ, cᵢ. A model's term is added where its
// flag is 1 (else +0, which leaves a sum that started from +0 as it is). The generator calls these per model.
const KARCHER_MODELS: u32 = 5u;
const KARCHER_PER_MODEL: u32 = 6u;

fn karcherScalar(i: u32, k: u32) -> vec4<f32> {
  return scalar(KARCHER_MODELS + KARCHER_PER_MODEL * i + k);
}

fn karcherU(s: vec4<f32>) -> vec4<f32> {
  return divide(s, scalar(0u));
}

// The initial direction's term of model i: f32(aᵢ·uᵢ).
fn karcherStart(acc: vec4<f32>, x: vec4<f32>, i: u32) -> vec4<f32> {
  let term = opaque(karcherScalar(i, 2u) * divide(x, karcherScalar(i, 0u)));
  return select(acc, acc + term, karcherScalar(i, 1u) == vec4<f32>(1.0));
}

// The tangent's term of model i: f32(cᵢ·f32(uᵢ − f32(dᵢ·u))).
fn karcherTangent(acc: vec4<f32>, x: vec4<f32>, u: vec4<f32>, i: u32) -> vec4<f32> {
  let diff = divide(x, karcherScalar(i, 0u)) - opaque(karcherScalar(i, 4u) * u);
  return select(acc, acc + opaque(diff * karcherScalar(i, 5u)), karcherScalar(i, 3u) == vec4<f32>(1.0));
}

// The step: f32(f32(cos‖T‖·u) + f32(f32(T / ‖T‖)·sin‖T‖)).
fn karcherStep(u: vec4<f32>, t: vec4<f32>) -> vec4<f32> {
  return opaque(u * scalar(1u)) + opaque(divide(t, scalar(3u)) * scalar(2u));
}
