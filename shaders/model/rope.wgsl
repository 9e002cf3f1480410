// Rotary position embedding, Hugging Face's `rotate_half` convention: element i of a head is paired
// with element i + d/2 (not 2i with 2i + 1), and
//   y[i]       = x[i] · cos − x[i + d/2] · sin
//   y[i + d/2] = x[i + d/2] · cos + x[i] · sin
// with the angle of position pos and frequency i. cos and sin come from a table [positions, d/2]
// that the host computes from the f32 angle fround(pos · inv_freq[i]) (inv_freq with Llama 3 scaling
// where the config has it): GPU sin/cos are only accurate near 0, and the table makes the GPU and the
// CPU twin use the very same values. In place on X, rows of `heads × d` from xRow0; the position of
// row r is tokens[metaRow0 + r].x (per-token arrays are indexed by KV-cache row).

struct Params {
  rows: u32,
  heads: u32,
  halfDim: u32,
  xRow0: u32,
  threadsPerRow: u32,   // invocations per row of the dispatch grid (grids wider than 65535 fold into y)
  metaRow0: u32,
  unused1: u32,
  unused2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;   // (cos, sin) at pos * halfDim + i
@group(0) @binding(2) var<storage, read> tokens: array<vec4<u32>>;  // (position, …): attention.wgsl's token rows
@group(0) @binding(3) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x + gid.y * p.threadsPerRow;
  let perRow = p.heads * p.halfDim;
  if (t >= p.rows * perRow) {
    return;
  }
  let row = t / perRow;
  let head = (t % perRow) / p.halfDim;
  let i = t % p.halfDim;
  let cs = table[tokens[p.metaRow0 + row].x * p.halfDim + i];
  let at = (p.xRow0 + row) * perRow * 2u + head * p.halfDim * 2u + i;
  let a = X[at];
  let b = X[at + p.halfDim];
  X[at] = a * cs.x - b * cs.y;
  X[at + p.halfDim] = b * cs.x + a * cs.y;
}
