// The merged rows of a LoRA-adapted tensor (the GPU form of src/formats/lora/loraRows.ts, its CPU twin):
//
//   W' = W + s·B·A                        (B [out, r], A [r, in], W [out, in])
//   W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖    (DoRA, the norm per output feature)
//
// for a block of `rows` stored rows starting at stored row `row0`. With fan_in_fan_out the stored
// tensor is [in, out]: a stored row is an input feature and a column an output feature.
//
// The twin computes in f64 and rounds once. WGSL has no f64, so every value here is a float-float: an
// unevaluated sum hi + lo of two f32 (about 48 significant bits). Each product B·A of two f32 values is
// exact as a float-float (Dekker's product with Veltkamp's split, no FMA needed), the r products are
// added with float-float additions, the scale s comes in as a float-float, and the one rounding to f32
// is hi + lo. The value before that rounding is within about 2⁻⁴⁴ of |W| + s·Σ|B·A| of the exact one,
// so the result is the twin's or 1 ulp from it (see docs/lora.md for the bound).
//
// DoRA's factor m / ‖·‖ is computed on the host in f64 from the float-float sums of squares that
// `squares` returns, then applied by `scaled` as a float-float. Entry points, each one dispatch:
//   merged:  out = round(W + s·B·A)                 (plain LoRA, rsLoRA)
//   adapted: v = W + s·B·A as float-floats          (DoRA's first step)
//   squares: lines[l] = Σ v² along line l            (a stored row, or with fan_in_fan_out a column)
//   scaled:  out = round(v · factor[line])           (factor = lines[l], set by the host)
//
// A compiler could fuse a product with the addition after it (FMA contraction), which would break the
// error-free transformations: the products they rely on being rounded pass through `opaque`, an XOR
// with a zero the compiler cannot see (as in soup.wgsl). Subnormal f32 values may be flushed to zero by
// the hardware; the low parts of products of weights (≥ 1e-19 in magnitude) stay normal.

struct Params {
  rows: u32,           // stored rows in this block
  cols: u32,           // stored columns
  r: u32,              // rank
  row0: u32,           // the block's first stored row in the tensor
  inFeatures: u32,     // A's row length
  fanInFanOut: u32,    // 1: the stored tensor is [in, out]
  zeroBits: u32,       // always 0; opaque to the compiler
  threadsPerRow: u32,  // invocations per row of the dispatch grid (workgroup counts > 65535 fold into y)
  scaleHi: f32,        // s = scaleHi + scaleLo
  scaleLo: f32,
  lineCount: u32,      // squares and scaled: rows (stored rows) or cols (fan_in_fan_out)
  unused: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;               // the block's base rows, rows × cols
@group(0) @binding(2) var<storage, read> loraA: array<f32>;           // A, r × inFeatures
@group(0) @binding(3) var<storage, read> loraB: array<f32>;           // B, outFeatures × r
@group(0) @binding(4) var<storage, read_write> v: array<vec2<f32>>;   // W + s·B·A as float-floats
@group(0) @binding(5) var<storage, read_write> lines: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ params.zeroBits);
}

// ---- Float-float arithmetic (Dekker 1971, Knuth's TwoSum; Bailey's double-double in f32).

// s + e = a + b exactly.
fn twoSum(a: f32, b: f32) -> vec2<f32> {
  let s = a + b;
  let bb = s - a;
  return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}

// s + e = a + b exactly, for |a| ≥ |b| (or a = 0).
fn quickTwoSum(a: f32, b: f32) -> vec2<f32> {
  let s = a + b;
  return vec2<f32>(s, b - (s - a));
}

// a = hi + lo with 12 significant bits each (Veltkamp: c = (2¹² + 1)·a, rounded, must not be fused).
fn split(a: f32) -> vec2<f32> {
  let c = opaque(4097.0 * a);
  let hi = c - (c - a);
  return vec2<f32>(hi, a - hi);
}

// p + e = a · b exactly (Dekker): the partial products of the halves are exact, so fusing them is harmless.
fn twoProduct(a: f32, b: f32) -> vec2<f32> {
  let p = opaque(a * b);
  let x = split(a);
  let y = split(b);
  let e = (((x.x * y.x - p) + x.x * y.y) + x.y * y.x) + x.y * y.y;
  return vec2<f32>(p, e);
}

fn ffAdd(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let s = twoSum(a.x, b.x);
  let t = twoSum(a.y, b.y);
  let u = quickTwoSum(s.x, s.y + t.x);
  return quickTwoSum(u.x, u.y + t.y);
}

fn ffMul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let p = twoProduct(a.x, b.x);
  return quickTwoSum(p.x, p.y + (opaque(a.x * b.y) + opaque(a.y * b.x)));
}

// The one rounding to f32 (the pair is normalised: hi is already the nearest f32 but for ties). An
// infinite or NaN operand makes the error terms NaN (∞ − ∞): then the plain f32 value `plain` is the
// result, as the twin's (∞ stays ∞, NaN stays NaN). Tested on the bits: a compiler may assume no NaN.
fn rounded(a: vec2<f32>, plain: f32) -> f32 {
  let r = a.x + a.y;
  return select(plain, r, (bitcast<u32>(r) & 0x7f800000u) != 0x7f800000u);
}

// ---- The element of stored row i, column j of the block.

fn elementIndex(gid: vec3<u32>) -> u32 {
  return gid.y * params.threadsPerRow + gid.x;
}

fn adaptedElement(e: u32) -> vec2<f32> {
  let i = e / params.cols;
  let j = e % params.cols;
  let r = params.r;
  let row = params.row0 + i;
  var acc = vec2<f32>(0.0, 0.0);
  if (params.fanInFanOut == 0u) {
    // Stored row `row` is output feature `row`: Σ_k B[row, k] · A[k, j].
    for (var k = 0u; k < r; k++) {
      acc = ffAdd(acc, twoProduct(loraB[row * r + k], loraA[k * params.inFeatures + j]));
    }
  } else {
    // Stored row `row` is input feature `row`, column j output feature j: Σ_k B[j, k] · A[k, row].
    for (var k = 0u; k < r; k++) {
      acc = ffAdd(acc, twoProduct(loraB[j * r + k], loraA[k * params.inFeatures + row]));
    }
  }
  return ffAdd(vec2<f32>(w[e], 0.0), ffMul(vec2<f32>(params.scaleHi, params.scaleLo), acc));
}

@compute @workgroup_size(64)
fn merged(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = elementIndex(gid);
  if (e >= params.rows * params.cols) { return; }
  // Where the sum is not finite, w carries the ∞ or NaN (a delta s·B·A beyond the f32 range is not handled).
  out[e] = rounded(adaptedElement(e), w[e]);
}

@compute @workgroup_size(64)
fn adapted(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = elementIndex(gid);
  if (e >= params.rows * params.cols) { return; }
  v[e] = adaptedElement(e);
}

@compute @workgroup_size(64)
fn squares(@builtin(global_invocation_id) gid: vec3<u32>) {
  let l = elementIndex(gid);
  if (l >= params.lineCount) { return; }
  var sq = vec2<f32>(0.0, 0.0);
  if (params.fanInFanOut == 0u) {
    for (var j = 0u; j < params.cols; j++) {
      let x = v[l * params.cols + j];
      sq = ffAdd(sq, ffMul(x, x));
    }
  } else {
    for (var i = 0u; i < params.rows; i++) {
      let x = v[i * params.cols + l];
      sq = ffAdd(sq, ffMul(x, x));
    }
  }
  lines[l] = sq;
}

@compute @workgroup_size(64)
fn scaled(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = elementIndex(gid);
  if (e >= params.rows * params.cols) { return; }
  let line = select(e % params.cols, e / params.cols, params.fanInFanOut == 0u);
  let x = v[e];
  let factor = lines[line];
  out[e] = rounded(ffMul(x, factor), x.x * factor.x);
}
