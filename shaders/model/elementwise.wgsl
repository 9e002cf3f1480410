// The forward pass's elementwise steps, on f32 activations.
//   addBias:  Y[row0 + r, c] += b[c] for rows r < rows, columns c < cols (Qwen2's q/k/v biases; b in
//             its checkpoint dtype through `loadW`, prepended by src/model/gpu/modelShaders.ts).
//   swiglu:   G = silu(G) · U, silu(g) = g / (1 + e^−g), as the Llama MLP's act_fn(gate) · up.
// Grids wider than 65535 workgroups fold into y: element e = gid.x + gid.y · threadsPerRow.

struct Params {
  rows: u32,
  cols: u32,
  row0: u32,
  threadsPerRow: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn addBias(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x + gid.y * p.threadsPerRow;
  if (e >= p.rows * p.cols) {
    return;
  }
  let c = e % p.cols;
  let at = p.row0 * p.cols + e;
  Y[at] = Y[at] + loadW(c);
}

@group(0) @binding(1) var<storage, read> U: array<f32>;

@compute @workgroup_size(64)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x + gid.y * p.threadsPerRow;
  if (e >= p.rows * p.cols) {
    return;
  }
  let g = Y[e];
  Y[e] = g / (1.0 + exp(-g)) * U[e];
}
