// Log-softmax of each logit row, gathered at the next token, and the row's argmax: what scoring and
// greedy generation read back instead of the logits (a row is the vocabulary, up to 150 k+ values).
//
// One workgroup per row of L (rows of a chunk of the LM head's output, `vocab` apart). For row r the
// target is targets[row0 + r] (0xffffffff: none, the last token of a sequence); R[2(row0 + r)] gets
// the bits of log p(target) = L[target] − max − log Σ exp(L − max) (f32), R[2(row0 + r) + 1] the
// index of the largest logit (the smallest such index on ties, as argmax does).

struct Params {
  rows: u32,
  vocab: u32,
  row0: u32,
  unused: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> R: array<u32>;

const WG: u32 = 64u;

// Each invocation reduces its stride of the row; the workgroup then combines the partial maxima (ties to
// the smallest index, as argmax) and sums with workgroupMaxAt / workgroupSum, from reduce.wgsl or, with
// the subgroups feature, reduceSubgroups.wgsl (appended by src/model/gpu/modelShaders.ts).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, inv: Invocation) {
  let lid = inv.lid.x;
  let r = wg.x + wg.y * 65535u;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.vocab;
  var m = -3.4e38;
  var at = 0xffffffffu;
  for (var i = lid; i < p.vocab; i += WG) {
    let v = L[base + i];
    if (v > m || at == 0xffffffffu) {
      m = v;
      at = i;
    }
  }
  let top = workgroupMaxAt(inv, m, at);
  let rowMax = bitcast<f32>(top.x);
  var s = 0.0;
  for (var i = lid; i < p.vocab; i += WG) {
    s = s + exp(L[base + i] - rowMax);
  }
  let total = workgroupSum(inv, s);
  if (lid == 0u) {
    let out = 2u * (p.row0 + r);
    let want = targets[p.row0 + r];
    var logProb = 0.0;
    if (want < p.vocab) {
      logProb = L[base + want] - rowMax - log(total);
    }
    R[out] = bitcast<u32>(logProb);
    R[out + 1u] = top.y;
  }
}
