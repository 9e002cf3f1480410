// Y = X · Wᵀ (+ Y when accumulate): the linear layers and the LM head of the forward pass.
//
// X is [n, k] f32 activations (from row xRow0), W is [m, k] weights in their checkpoint dtype, read
// through `loadW` (src/model/gpu/modelShaders.ts prepends it: F32 as is, F16 and BF16 decoded from
// u32 words on the bits, as no shader-f16 is assumed). Y rows start at yRow0, have stride yStride,
// and this dispatch writes columns [col0, col0 + m): a tensor too large for one binding is cut by
// rows into parts, each part one dispatch writing its own columns. `accumulate` (a uniform, so one
// pipeline serves both: compiling this kernel is the slow part of loading on a software adapter) adds to Y instead of
// overwriting it, which fuses the residual additions after o_proj and down_proj.
//
// Tiling: a workgroup of 16×16 invocations computes a 64×64 tile of Y, stepping through k 16 at a
// time through workgroup memory; each invocation owns 4×4 outputs at stride 16 (rows lid.y + 16i,
// columns lid.x + 16j), so that loads of the tiles and writes of Y are contiguous across a row of
// invocations. Sums are f32, in increasing k within each 16-wide step.
//
// `Tile` is the type of the workgroup tiles, an alias src/model/gpu/modelShaders.ts declares: f32 on
// every adapter, f16 with the adapter's shader-f16 (then `enable f16;` comes first): X and W are rounded
// to f16 as they enter the tiles, each product is an f16 multiply, and the sums stay f32. Half the
// workgroup memory and, on hardware with packed f16, twice the multiplies; untested on hardware here.

struct Params {
  n: u32,
  m: u32,
  k: u32,
  xRow0: u32,
  yRow0: u32,
  yStride: u32,
  col0: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

// [TK][TILE]: element (kk, r) at kk * TILE + r.
var<workgroup> xs: array<Tile, 1024>;
var<workgroup> ws: array<Tile, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let rowBase = wg.y * TILE;
  let colBase = wg.x * TILE;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) {
    acc[i] = 0.0;
  }
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    // 64 rows × 16 k of each operand: 1024 values, 4 per invocation; kk fastest for contiguous reads.
    for (var e = 0u; e < 4u; e++) {
      let idx = tid + e * 256u;
      let r = idx / TK;
      let kk = idx % TK;
      let kAt = k0 + kk;
      var xv = 0.0;
      let row = rowBase + r;
      if (row < p.n && kAt < p.k) {
        xv = X[(p.xRow0 + row) * p.k + kAt];
      }
      xs[kk * TILE + r] = Tile(xv);
      var wv = 0.0;
      let col = colBase + r;
      if (col < p.m && kAt < p.k) {
        wv = loadW(col * p.k + kAt);
      }
      ws[kk * TILE + r] = Tile(wv);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var a: array<Tile, 4>;
      var b: array<Tile, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = xs[kk * TILE + lid.y + 16u * i];
        b[i] = ws[kk * TILE + lid.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = acc[i * 4u + j] + f32(a[i] * b[j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = rowBase + lid.y + 16u * i;
    if (row >= p.n) {
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let col = colBase + lid.x + 16u * j;
      if (col < p.m) {
        let at = (p.yRow0 + row) * p.yStride + p.col0 + col;
        if (p.accumulate != 0u) {
          Y[at] = Y[at] + acc[i * 4u + j];
        } else {
          Y[at] = acc[i * 4u + j];
        }
      }
    }
  }
}

// The same product for a few rows (n ≤ 4: generation's one new token, a last chunk), without workgroup
// memory or barriers: one invocation per output column c of this part, looping over k with the rows'
// sums in registers. A 64×64 tile would leave 60+ of its 64 rows idle and still pay its barriers, which
// software adapters (SwiftShader) charge per invocation; decoding one token is bound by reading W anyway.
// Grid: columns fold into y past `colsPerRow` (= threads per row of the grid).
@compute @workgroup_size(64)
fn matvec(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let col = gid.x + gid.y * groups.x * 64u;
  if (col >= p.m) {
    return;
  }
  var acc = vec4<f32>(0.0);
  let rows = min(p.n, 4u);
  let wBase = col * p.k;
  for (var kAt = 0u; kAt < p.k; kAt++) {
    let w = loadW(wBase + kAt);
    for (var r = 0u; r < rows; r++) {
      acc[r] = acc[r] + X[(p.xRow0 + r) * p.k + kAt] * w;
    }
  }
  for (var r = 0u; r < rows; r++) {
    let at = (p.yRow0 + r) * p.yStride + p.col0 + col;
    if (p.accumulate != 0u) {
      Y[at] = Y[at] + acc[r];
    } else {
      Y[at] = acc[r];
    }
  }
}
