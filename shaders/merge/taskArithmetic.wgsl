// The element pass of mergekit's generalised task arithmetic — task_arithmetic, ties, dare_ties,
// dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear — once the
// whole-tensor statistics are known. The arithmetic, every f32 step in this order, is the CPU's
// (src/merge/methods/taskArithmeticFamily.ts, `combine`), which the tests hold this kernel to:
//
//   δⱼ = f32(xⱼ − b);  kept: x = δⱼ, dropped: x = δⱼ·0;  x = f32(x·scaleⱼ);  wdⱼ = f32(x·wⱼ)
//   consensus: s = Σ wdⱼ; majority + when s ≥ 0; agreeⱼ = sign(wdⱼ) = majority;
//              mixed = Σ wdⱼ·agreeⱼ, divisor = Σ wⱼ·agreeⱼ (0 → 1)
//   otherwise: mixed = Σ wdⱼ, divisor = the host's f32 Σ wⱼ (|·| < 1e-8 → 1)
//   normalize: mixed = f32(mixed / divisor);  λ ≠ 1: mixed = f32(mixed·λ);  out = round(f32(b + mixed))
//
// Which deltas an element keeps: magnitude selections (TIES: not among the numel − k smallest |δ|;
// breadcrumbs: not among the smallest and among the numel − n_top smallest), given as (key, cut)
// pairs of src/merge/program/select.ts — below iff key < value, or key = value and index < cut — and
// DARE's random masks, u < p with u = the counter hash of src/merge/program/counterRandom.ts (lowbias32,
// u32 arithmetic that wraps as Math.imul does) of (stream, 64-bit element index), 24 bits, exact in f32.
//
// The keep masks are shaders/merge/keep.wgsl's, which the statistics kernel applies too (the rescale sums);
// DELLA's are bits drawn beforehand from each row's ranks (shaders/merge/dellaRanks.wgsl, read by
// shaders/merge/keepBits.wgsl).
//
// src/merge/gpu/taskArithmeticShader.ts appends `main` per job shape: the inputs' dtypes, each model's mask
// kind, consensus, normalize and λ ≠ 1 fixed, straight-line over the models. Products are opaque (see
// soup.wgsl) so no compiler fuses them into the additions that follow. Division is the one step WGSL
// does not round correctly (2.5 ulp): normalize's quotient is shaders/merge/divide.wgsl's, correctly rounded
// as the CPU's f32(a / b) is.

struct Params {
  blockCount: u32,   // blocks of 8 elements (per 16-bit input) in this dispatch
  zeroBits: u32,     // always 0; opaque to the compiler
  blocksPerRow: u32,
  unused: u32,
  offsetLo: u32,     // tensor index of this dispatch's first element, 64-bit
  offsetHi: u32,
  divisor: f32,      // without consensus: the divisor of normalize
  lambda: f32,
  models: array<Model, MODELS>,
}

// Index, indexOf, keyBits and isBelow: shaders/merge/selection.wgsl; Model, lowbias32, uniform24 and the keep
// masks (keepAll, keepLargest, keepBetween, keepRandom): shaders/merge/keep.wgsl.

// f32(f32(kept ? δ : δ·0)·scale)·w, rounded and opaque.
fn weighted(d: vec4<f32>, keep: vec4<bool>, m: Model) -> vec4<f32> {
  let zero = bitcast<f32>(params.zeroBits);
  let x = select(opaque(d * zero), d, keep);
  let scaled = opaque(x * bitcast<f32>(m.a.y));
  return opaque(scaled * bitcast<f32>(m.a.x));
}

// Sign consensus: whether wd agrees with the majority (s ≥ 0: +), as 1 or 0.
fn agreement(wd: vec4<f32>, s: vec4<f32>) -> vec4<f32> {
  let positive = s >= vec4<f32>(0.0);
  let agree = ((wd > vec4<f32>(0.0)) & positive) | ((wd < vec4<f32>(0.0)) & !positive);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), agree);
}

fn divisorOrOne(divisor: vec4<f32>) -> vec4<f32> {
  return select(divisor, vec4<f32>(1.0), divisor == vec4<f32>(0.0));
}
