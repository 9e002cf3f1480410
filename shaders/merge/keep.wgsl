// Which elements of a task vector the task-arithmetic family keeps (src/merge/gpu/wgslModules.ts includes this
// file, after shaders/merge/selection.wgsl, for the kernels that apply the masks): the element pass
// (taskArithmetic.wgsl) and the rescale sums Σ|kept δ| (stats.wgsl). The CPU reading of the same masks is
// src/merge/program/gpuElements.ts isKept; the element pass's CPU twin is taskArithmeticFamily.ts.
// Magnitude selections are (key, cut) pairs of src/merge/program/select.ts; DARE's random masks are
// u < p with u = the counter hash of src/merge/program/counterRandom.ts of (stream, 64-bit element index).
// src/merge/gpu/taskArithmeticKernel.ts putKeep packs a Model's keep words.

struct Model {
  // weight (f32 bits), scale (f32 bits), keep probability p (f32 bits), random stream
  a: vec4<u32>,
  // lower selection: key value, cut index low word, high word, unused
  low: vec4<u32>,
  // upper selection (breadcrumbs' outliers), same layout
  high: vec4<u32>,
}

fn lowbias32(x0: vec4<u32>) -> vec4<u32> {
  var x = x0 ^ (x0 >> vec4<u32>(16u));
  x = x * vec4<u32>(0x7feb352du);
  x = x ^ (x >> vec4<u32>(15u));
  x = x * vec4<u32>(0x846ca68bu);
  return x ^ (x >> vec4<u32>(16u));
}

// uniform24 of counterRandom.ts: 24 random bits as a number in [0, 1), exact in f32.
fn uniform24(stream: u32, at: Index) -> vec4<f32> {
  let h = lowbias32(lowbias32(vec4<u32>(stream) ^ at.lo) ^ at.hi);
  return vec4<f32>(h >> vec4<u32>(8u)) * (1.0 / 16777216.0);
}

// ---- Keep masks, per kind (the generator picks one per model).

fn keepAll(d: vec4<f32>, at: Index, m: Model) -> vec4<bool> {
  return vec4<bool>(true);
}

// TIES: not among the numel − k smallest magnitudes.
fn keepLargest(d: vec4<f32>, at: Index, m: Model) -> vec4<bool> {
  return !isBelow(keyBits(d), at, m.low);
}

// Breadcrumbs: not among the smallest, and among the numel − n_top smallest (not an outlier).
fn keepBetween(d: vec4<f32>, at: Index, m: Model) -> vec4<bool> {
  let k = keyBits(d);
  return !isBelow(k, at, m.low) & isBelow(k, at, m.high);
}

// DARE: kept with probability p.
fn keepRandom(d: vec4<f32>, at: Index, m: Model) -> vec4<bool> {
  return uniform24(m.a.w, at) < vec4<f32>(bitcast<f32>(m.a.z));
}
