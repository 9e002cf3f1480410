// Causal grouped-query attention, one workgroup per (query token, query head).
//
// Q is [tokens, heads, d]; K and V are the cache [rows, kvHeads, d]. Query token t sits at cache row
// row0 + t; tokens[row0 + t] = (position, own, sharedFrom, sharedRows): it attends first to the sharedRows rows
// sharedFrom … sharedFrom + sharedRows − 1 (a context it shares with an earlier sequence of the batch: the
// choices of a multiple-choice item compute their common context once), then to its own rows own … row0 + t
// (its sequence so far: sequences of a batch are packed one after another, and generation appends rows to
// the prompt's). Keys are taken in that order as one list of sharedRows + (own rows) entries. Query head h reads kv head
// h / (heads / kvHeads). Keys are taken 64 at a time: each invocation scores one key, the block's
// maximum and the running maximum give the rescaling of the running sum and of the output (online
// softmax, so no score array of the sequence's length is kept), then each invocation accumulates its
// share of the d output values. All in f32. Three barriers per block of keys: every invocation scans
// the block's 64 scores for the maximum rather than a tree reduction (barriers are what software
// adapters pay most for).

struct Params {
  tokens: u32,
  heads: u32,
  kvHeads: u32,
  headDim: u32,
  row0: u32,
  scale: f32,
  unused0: u32,
  unused1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> tokens: array<vec4<u32>>;  // (position, first own row, first shared row, shared rows)
@group(0) @binding(5) var<storage, read_write> O: array<f32>;

const WG: u32 = 64u;
const MAX_HEAD_DIM: u32 = 256u;
const PER_INVOCATION: u32 = MAX_HEAD_DIM / WG;

var<workgroup> q: array<f32, MAX_HEAD_DIM>;
var<workgroup> scores: array<f32, WG>;
var<workgroup> weight: array<f32, WG>;

// The cache row of key j of a query's list: the shared rows first, then its own ('shared' is a WGSL keyword).
fn keyRow(j: u32, first: u32, sharedFrom: u32, sharedRows: u32) -> u32 {
  return select(first + (j - sharedRows), sharedFrom + j, j < sharedRows);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let head = wg.x;
  let t = wg.y + wg.z * 65535u;
  if (t >= p.tokens) {
    return;
  }
  let d = p.headDim;
  let kvHead = head / (p.heads / p.kvHeads);
  let kvStride = p.kvHeads * d;
  let qBase = (t * p.heads + head) * d;
  for (var i = lid; i < d; i += WG) {
    q[i] = Q[qBase + i] * p.scale;
  }
  workgroupBarrier();

  let row = tokens[p.row0 + t];
  let first = row.y;
  let sharedFrom = row.z;
  let sharedRows = row.w;
  let last = p.row0 + t;  // inclusive
  // Keys j = 0 … keys − 1 of the list: shared rows, then own rows.
  let keys = sharedRows + (last + 1u - first);
  var runningMax = -3.0e38;
  var runningSum = 0.0;
  var acc: array<f32, PER_INVOCATION>;
  for (var i = 0u; i < PER_INVOCATION; i++) {
    acc[i] = 0.0;
  }
  for (var b = 0u; b < keys; b += WG) {
    let j = b + lid;
    var score = -3.0e38;
    if (j < keys) {
      let kBase = keyRow(j, first, sharedFrom, sharedRows) * kvStride + kvHead * d;
      var s = 0.0;
      for (var i = 0u; i < d; i++) {
        s = s + q[i] * K[kBase + i];
      }
      score = s;
    }
    scores[lid] = score;
    workgroupBarrier();
    // Every invocation finds the block's maximum itself: cheaper than a tree of barriers.
    let count = min(WG, keys - b);
    var m = runningMax;
    for (var jj = 0u; jj < count; jj++) {
      m = max(m, scores[jj]);
    }
    let newMax = m;
    let rescale = exp(runningMax - newMax);
    var w = 0.0;
    if (j < keys) {
      w = exp(score - newMax);
    }
    weight[lid] = w;
    workgroupBarrier();
    var blockSum = 0.0;
    for (var jj = 0u; jj < count; jj++) {
      blockSum = blockSum + weight[jj];
    }
    runningSum = runningSum * rescale + blockSum;
    for (var i = 0u; i < PER_INVOCATION; i++) {
      let dim = lid + i * WG;
      if (dim < d) {
        var s = 0.0;
        for (var jj = 0u; jj < count; jj++) {
          s = s + weight[jj] * V[keyRow(b + jj, first, sharedFrom, sharedRows) * kvStride + kvHead * d + dim];
        }
        acc[i] = acc[i] * rescale + s;
      }
    }
    runningMax = newMax;
    // scores and weight are rewritten by the next block.
    workgroupBarrier();
  }
  let oBase = (t * p.heads + head) * d;
  for (var i = 0u; i < PER_INVOCATION; i++) {
    let dim = lid + i * WG;
    if (dim < d) {
      O[oBase + dim] = acc[i] / runningSum;
    }
  }
}
