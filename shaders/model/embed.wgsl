// Token embedding lookup: Y[t, :] = W[ids[row0 + t] − firstRow, :], decoded from the checkpoint dtype by
// `loadW` (prepended by src/model/gpu/modelShaders.ts). W is one part of the embedding matrix, rows
// firstRow … firstRow + partRows − 1 (a large vocabulary is cut into parts that each fit a binding):
// tokens whose id falls in another part are left to that part's dispatch.

struct Params {
  tokens: u32,
  dim: u32,
  firstRow: u32,
  partRows: u32,
  threadsPerRow: u32,
  row0: u32,            // KV-cache row of token 0: ids are indexed by cache row
  unused1: u32,
  unused2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x + gid.y * p.threadsPerRow;
  if (e >= p.tokens * p.dim) {
    return;
  }
  let t = e / p.dim;
  let i = e % p.dim;
  let id = ids[p.row0 + t];
  if (id < p.firstRow || id - p.firstRow >= p.partRows) {
    return;
  }
  Y[e] = loadW((id - p.firstRow) * p.dim + i);
}
