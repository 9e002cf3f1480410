// RMSNorm as Hugging Face computes it, in f32: y = w · x · 1/sqrt(mean(x²) + eps).
//
// One workgroup per row of `dim` values; rows start at row0 and are `dim` apart. `main` reads X and
// writes Y (the norms before attention, before the MLP and at the end); `inPlace` normalises Y itself
// (Qwen3's per-head q_norm / k_norm, rows = tokens × heads of head_dim). W is the norm weight in its
// checkpoint dtype, through `loadW` (prepended by src/model/gpu/modelShaders.ts).

struct Params {
  rows: u32,
  dim: u32,
  row0: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const WG: u32 = 64u;

// The workgroup's sum (workgroupSum) and the entry points' `Invocation` come from reduce.wgsl or, with the
// subgroups feature, reduceSubgroups.wgsl (src/model/gpu/modelShaders.ts appends one of them).

// 1/sqrt(mean(x²) + eps) of this workgroup's row, from each invocation's share of the row's sum of
// squares: the row reduction both entry points share. The loops over the row stay in each entry point:
// they read different bindings (X, or Y in place), and WGSL takes no pointer to a storage buffer as an
// argument (without unrestricted_pointer_parameters), nor X read-only and Y read-write through one.
fn inverseRms(inv: Invocation, sumOfSquares: f32) -> f32 {
  return inverseSqrt(workgroupSum(inv, sumOfSquares) / f32(p.dim) + p.eps);
}

// This workgroup's row, counted from row0: the grid is 65535 workgroups wide and continues in y, so the
// last rows of the grid may lie past p.rows.
fn workgroupRow(wg: vec3<u32>) -> u32 {
  return wg.x + wg.y * 65535u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, inv: Invocation) {
  let lid = inv.lid;
  let row = workgroupRow(wg);
  if (row >= p.rows) {
    return;
  }
  let base = (p.row0 + row) * p.dim;
  var s = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) {
    let v = X[base + i];
    s = s + v * v;
  }
  let scale = inverseRms(inv, s);
  for (var i = lid.x; i < p.dim; i += WG) {
    Y[base + i] = loadW(i) * (X[base + i] * scale);
  }
}

// Y normalised in place: X is not bound.
@compute @workgroup_size(64)
fn inPlace(@builtin(workgroup_id) wg: vec3<u32>, inv: Invocation) {
  let lid = inv.lid;
  let row = workgroupRow(wg);
  if (row >= p.rows) {
    return;
  }
  let base = (p.row0 + row) * p.dim;
  var s = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) {
    let v = Y[base + i];
    s = s + v * v;
  }
  let scale = inverseRms(inv, s);
  for (var i = lid.x; i < p.dim; i += WG) {
    Y[base + i] = loadW(i) * (Y[base + i] * scale);
  }
}
