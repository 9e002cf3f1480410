// DELLA's keep masks (mergekit's della_magprune, sparsify.py): within each row of a task vector δ = x − base,
// the elements ranked by |δ|, each kept with a probability that grows with its rank, drawn from the
// counter hash of src/merge/program/counterRandom.ts. The CPU twin, which the tests hold this kernel to
// bit for bit, is dellaMask in src/merge/methods/taskArithmeticFamily.ts:
//
//   key = the f32 bits of |f32(x − b)| (every NaN one key above +Inf: shaders/merge/selection.wgsl keyBits)
//   rank = the element's place in the stable ascending order of its row's keys, from 0: the number of
//          elements of the row with a smaller key, plus those with the same key and a smaller index
//   rank_norm = f32(rank / (row − 1)) (correctly rounded: shaders/merge/divide.wgsl), 0 for rows of one
//   p = f32(f32(d − ε) + f32(f32(rank_norm·2)·ε));  kept when uniform24(stream, tensor index) < p
//
// One chunk of whole rows per dispatch pair, its inputs packed as for shaders/merge/soup.wgsl. `keys`
// writes every model's keys to `sortKeys` (one invocation per block of 8 elements; src/merge/gpu/dellaRanksShader.ts
// appends it, straight-line over the models); `ranks` counts each element's rank for one model: a
// workgroup holds RANK_LANES elements of one row and walks the whole row in tiles of RANK_LANES keys
// through workgroup memory, so a row of any length is ranked in one dispatch (row² comparisons: no
// sort, no order between rows, ties by index as a stable sort leaves them); `shortRanks` ranks rows of
// at most RANK_LANES / 2 elements several to a workgroup. Kept elements set their
// bit in `bits` (bit firstBit + e of the model's words for element e of the chunk).

struct Params {
  blockCount: u32,     // blocks of 8 elements per 16-bit input in this chunk (the input stride in `src`)
  zeroBits: u32,       // always 0; opaque to the compiler
  blocksPerRow: u32,   // keys: invocations per row of the grid; ranks: workgroups per row of the grid
  validElements: u32,  // elements in this chunk (whole rows)
  offsetLo: u32,       // tensor index of the chunk's first element, 64-bit
  offsetHi: u32,
  rowLength: u32,
  tilesPerRow: u32,    // ranks: workgroups per row, ⌈rowLength / RANK_LANES⌉ (shortRanks: 1)
  rows: u32,
  keyStart: u32,       // ranks: the model's first key in `sortKeys`
  keyStride: u32,      // keys: elements per model in `sortKeys` (blockCount · 8)
  stream: u32,         // ranks: the model's random stream
  low: f32,            // ranks: f32(d − ε)
  epsilon: f32,        // ranks: f32(ε)
  lastRank: f32,       // ranks: row − 1, exact in f32
  firstBit: u32,       // ranks: the bit of the chunk's element 0 in the model's first word
  wordStart: u32,      // ranks: the model's first word in `bits`
  unused0: u32,
  unused1: u32,
  unused2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> sortKeys: array<u32>;
@group(0) @binding(3) var<storage, read_write> bits: array<atomic<u32>>;

const RANK_LANES: u32 = 256u;

var<workgroup> tile: array<u32, RANK_LANES>;

// x made opaque to the compiler (XOR with the uniform zero): a product passed through it is rounded to
// f32 and not fused with the addition that follows.
fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ params.zeroBits);
}

// The keys of block v's elements (d = x − b) from element 8v of the model's keys.
fn storeKeys(model: u32, v: u32, b: Block, x: Block) {
  let lo = keyBits(x.lo - b.lo);
  let hi = keyBits(x.hi - b.hi);
  let at = model * params.keyStride + 8u * v;
  sortKeys[at] = lo.x;
  sortKeys[at + 1u] = hi.x;
  sortKeys[at + 2u] = lo.y;
  sortKeys[at + 3u] = hi.y;
  sortKeys[at + 4u] = lo.z;
  sortKeys[at + 5u] = hi.z;
  sortKeys[at + 6u] = lo.w;
  sortKeys[at + 7u] = hi.w;
}

@compute @workgroup_size(256)
fn ranks(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let group = wid.y * params.blocksPerRow + wid.x;
  let row = group / params.tilesPerRow;
  // The grid's padding: whole workgroups, before any barrier.
  if (row >= params.rows) {
    return;
  }
  let n = params.rowLength;
  let i = (group % params.tilesPerRow) * RANK_LANES + li;
  let first = params.keyStart + row * n;
  let mine = i < n;
  let key = sortKeys[first + min(i, n - 1u)];
  var rank = 0u;
  for (var s = 0u; s < n; s = s + RANK_LANES) {
    let j = s + li;
    tile[li] = sortKeys[first + min(j, n - 1u)];
    workgroupBarrier();
    for (var q = 0u; q < min(RANK_LANES, n - s); q = q + 1u) {
      let k = tile[q];
      rank = rank + select(0u, 1u, (k < key) | ((k == key) & (s + q < i)));
    }
    workgroupBarrier();
  }
  if (mine) {
    draw(row * n + i, rank);
  }
}

// Rows of at most RANK_LANES / 2 elements (the host's choice): a workgroup ranks ⌊RANK_LANES / row⌋ whole rows at once, each
// lane one element, its row's keys in workgroup memory.
@compute @workgroup_size(256)
fn shortRanks(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n = params.rowLength;
  let perGroup = RANK_LANES / n;
  let inGroup = li / n;
  let i = li % n;
  let row = (wid.y * params.blocksPerRow + wid.x) * perGroup + inGroup;
  let mine = inGroup < perGroup && row < params.rows;
  let key = sortKeys[params.keyStart + min(row, params.rows - 1u) * n + i];
  tile[li] = key;
  workgroupBarrier();
  if (!mine) {
    return;
  }
  var rank = 0u;
  let first = inGroup * n;
  for (var q = 0u; q < n; q = q + 1u) {
    let k = tile[first + q];
    rank = rank + select(0u, 1u, (k < key) | ((k == key) & (q < i)));
  }
  draw(row * n + i, rank);
}

// The draw of element `local` of the chunk at its rank: its bit set when kept.
fn draw(local: u32, rank: u32) {
  let n = params.rowLength;
  let rankNorm = select(0.0, divide(vec4<f32>(f32(rank)), vec4<f32>(params.lastRank)).x, n > 1u);
  let p = params.low + opaque(opaque(rankNorm * 2.0) * params.epsilon);
  let lo = params.offsetLo + local;
  let hi = params.offsetHi + select(0u, 1u, lo < local);
  let u = uniform24(params.stream, Index(vec4<u32>(lo), vec4<u32>(hi))).x;
  if (u < p) {
    let b = params.firstBit + local;
    atomicOr(&bits[params.wordStart + (b >> 5u)], 1u << (b & 31u));
  }
}
