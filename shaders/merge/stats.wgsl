// Whole-tensor statistics for the merge methods, defined in src/merge/program/tensorStats.ts (the CPU
// twin, to the bit): blocked, compensated sums of products and magnitudes, and the radix selection of the elements
// of largest (or smallest) magnitude. One dispatch covers one chunk of a tensor that starts on a group
// boundary (STATS_GROUP = 512 elements = one workgroup of 64 lanes × 8 elements), so a tensor larger
// than a GPU buffer is a sequence of dispatches whose results the host adds up.
//
// Inputs are packed as for shaders/merge/soup.wgsl (each input's blocks after the previous input's). This file
// is completed per input shape by src/merge/gpu/statsShader.ts, which appends `selectedKeys` (the keys a
// selection ranks: the magnitudes of an input, or of an input minus the base, or sce's variances across
// the inputs minus the base) and the entry point `sums` (straight-line over the sums the spec asks for:
// src/merge/program/tensorStats.ts sumTerms — the pairs of vectors, multislerp's chain through
// shaders/merge/multislerp.wgsl, or the rescale's magnitudes through the keep masks of shaders/merge/keep.wgsl; sce's
// mean squares over the elements its variance selection keeps: keepLargest of the variance), and
// `lineSums`, the same sums per row or column (src/merge/program/lineSums.ts: one workgroup per group of a
// line, its lanes' elements gathered by position). Products are made opaque (see soup.wgsl) so that no
// compiler fuses them into an addition; a GPU may still flush subnormal f32 values to zero.

struct StatsParams {
  blockCount: u32,     // blocks of 8 elements per 16-bit input in this chunk (the input stride in `src`)
  zeroBits: u32,       // always 0; opaque to the compiler
  blocksPerRow: u32,   // invocations per row of the dispatch grid
  validElements: u32,  // elements in this chunk; the rest of the last block is padding (lineSums: lines in this chunk)
  prefix: u32,         // histogram: count only keys whose bits under prefixMask equal this; ties: the threshold key
  prefixMask: u32,
  shift: u32,          // histogram: the digit counted is (key >> shift) & digitMask
  digitMask: u32,
  offsetLo: u32,       // tensor index of this chunk's first element, 64-bit (shaders/merge/selection.wgsl: the keep masks)
  offsetHi: u32,
  // lineSums: the chunk holds lines (rows or columns) of lineLength elements each (their parts in this
  // chunk); element k of line l is at l·lineStride + k·elementStride in the chunk; each line's groups are
  // groupsPerLine workgroups; line l of the chunk is line firstLine + l of the tensor (its divisors).
  groupsPerLine: u32,
  lineLength: u32,
  lineStride: u32,
  elementStride: u32,
  firstLine: u32,
  unused0: u32,
}

@group(0) @binding(0) var<uniform> params: StatsParams;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
// histogram: one count per digit value; ties: one count per group (workgroup) of this chunk.
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
// sums: STATS_TERMS (sum, compensation) pairs per group, group-major.
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const LANES: u32 = 64u;
const MAX_DIGITS: u32 = 2048u;

var<workgroup> bins: array<atomic<u32>, MAX_DIGITS>;
var<workgroup> groupTies: atomic<u32>;
var<workgroup> lanes: array<f32, LANES>;
var<workgroup> lanesC: array<f32, LANES>;

fn opaque(v: vec4<f32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) ^ vec4<u32>(params.zeroBits));
}

fn minus(x: Block, b: Block) -> Block {
  return Block(x.lo - b.lo, x.hi - b.hi);
}

// The order keys of a block's elements (selectedKeys, generated: magnitudes or sce's variances).
struct Keys {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

// The order key of |d|: the f32 bits of |d|, every NaN as 0x7fc00000 (above +Inf).
fn magnitudeKeys(d: vec4<f32>) -> vec4<u32> {
  let m = bitcast<vec4<u32>>(d) & vec4<u32>(0x7fffffffu);
  return select(m, vec4<u32>(0x7fc00000u), m > vec4<u32>(0x7f800000u));
}

fn blockIndex(gid: vec3<u32>) -> u32 {
  return gid.y * params.blocksPerRow + gid.x;
}

fn groupIndex(wid: vec3<u32>) -> u32 {
  return wid.y * (params.blocksPerRow / LANES) + wid.x;
}

// Which of the 8 elements of block v exist: lo[j] is element 8v + 2j, hi[j] element 8v + 2j + 1.
fn liveLo(v: u32) -> vec4<bool> {
  return (vec4<u32>(8u * v) + vec4<u32>(0u, 2u, 4u, 6u)) < vec4<u32>(params.validElements);
}

fn liveHi(v: u32) -> vec4<bool> {
  return (vec4<u32>(8u * v) + vec4<u32>(1u, 3u, 5u, 7u)) < vec4<u32>(params.validElements);
}

// ---- Sums: a lane adds its 8 terms in index order, the workgroup combines its lanes by a tree, all
// compensated (TwoSum: see src/merge/program/tensorStats.ts). Every step is made opaque so that no
// compiler simplifies the error terms away.

fn opaque1(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ params.zeroBits);
}

// A running sum and its compensation.
struct Compensated {
  s: f32,
  c: f32,
}

// TwoSum of a + x: the rounded sum and its rounding error.
fn twoSum(a: f32, x: f32) -> Compensated {
  let t = opaque1(a + x);
  let b = opaque1(t - a);
  return Compensated(t, opaque1(opaque1(a - opaque1(t - b)) + opaque1(x - b)));
}

// The lane's compensated sum of its 8 terms (rounded to f32, padding +0) and their exact remainders
// (squares; else +0), from (+0, +0). A block's element 2j is lo[j], element 2j + 1 hi[j].
fn laneSum(terms: Block, rests: Block) -> Compensated {
  var acc = Compensated(bitcast<f32>(params.zeroBits), bitcast<f32>(params.zeroBits));
  for (var j = 0u; j < 4u; j++) {
    var r = twoSum(acc.s, terms.lo[j]);
    acc = Compensated(r.s, opaque1(acc.c + opaque1(r.c + rests.lo[j])));
    r = twoSum(acc.s, terms.hi[j]);
    acc = Compensated(r.s, opaque1(acc.c + opaque1(r.c + rests.hi[j])));
  }
  return acc;
}

// Which of a lane's 8 elements exist (lo: elements 0, 2, 4, 6; hi: 1, 3, 5, 7).
struct Live {
  lo: vec4<bool>,
  hi: vec4<bool>,
}

fn liveBlock(v: u32) -> Live {
  return Live(liveLo(v), liveHi(v));
}

fn live(x: Block, m: Live) -> Block {
  let zero = vec4<f32>(0.0);
  return Block(select(zero, x.lo, m.lo), select(zero, x.hi, m.hi));
}

fn noRests() -> Block {
  return Block(vec4<f32>(0.0), vec4<f32>(0.0));
}

// Products dᵢ·dⱼ of a block, rounded and opaque, padding as +0.
fn productSum(a: Block, b: Block, v: Live) -> Compensated {
  return laneSum(live(Block(opaque(a.lo * b.lo), opaque(a.hi * b.hi)), v), noRests());
}

// v² − f32(v²) exactly: Dekker's product with Veltkamp's split (src/merge/program/tensorStats.ts exactSquares).
fn squareRest(x: vec4<f32>, p: vec4<f32>) -> vec4<f32> {
  let k = opaque(x * 4097.0);
  let h = opaque(k - opaque(k - x));
  let r = opaque(x - h);
  let hr = opaque(h * r);
  return opaque(opaque(opaque(opaque(opaque(h * h) - p) + hr) + hr) + opaque(r * r));
}

// Exact squares dᵢ² of a block (the norms), padding as +0.
fn squareSum(a: Block, v: Live) -> Compensated {
  let p = Block(opaque(a.lo * a.lo), opaque(a.hi * a.hi));
  return laneSum(live(p, v), live(Block(squareRest(a.lo, p.lo), squareRest(a.hi, p.hi)), v));
}

fn magnitudeSum(a: Block, v: Live) -> Compensated {
  return laneSum(live(Block(abs(a.lo), abs(a.hi)), v), noRests());
}

// ---- lineSums: a workgroup sums one group of one line, its lane's 8 elements gathered one by one.

// The lane's 8 elements of a line group: their positions in the line (lo: 0, 2, 4, 6; hi: 1, 3, 5, 7).
struct LinePositions {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn linePositions(group: u32, li: u32) -> LinePositions {
  let first = (group % params.groupsPerLine) * 512u + 8u * li;
  return LinePositions(vec4<u32>(first) + vec4<u32>(0u, 2u, 4u, 6u), vec4<u32>(first) + vec4<u32>(1u, 3u, 5u, 7u));
}

// Positions in the line (and lines in the chunk: validElements counts them here) that exist.
fn lineHas(line: u32, p: vec4<u32>) -> vec4<bool> {
  return (p < vec4<u32>(params.lineLength)) & vec4<bool>(line < params.validElements);
}

fn lineLive(line: u32, p: LinePositions) -> Live {
  return Live(lineHas(line, p.lo), lineHas(line, p.hi));
}

// Chunk indices of four positions of line `line` (those that do not exist: element 0, never summed).
fn lineElements(line: u32, p: vec4<u32>) -> vec4<u32> {
  let e = vec4<u32>(line * params.lineStride) + p * vec4<u32>(params.elementStride);
  return select(vec4<u32>(0u), e, lineHas(line, p));
}

// Four elements of an input whose blocks start at src[first]: 32-bit words, or 16-bit halves (low half first).
fn gatherF32(first: u32, e: vec4<u32>) -> vec4<f32> {
  var out: vec4<f32>;
  for (var j = 0u; j < 4u; j++) {
    let w = 4u * first + e[j];
    out[j] = bitcast<f32>(src[w / 4u][w % 4u]);
  }
  return out;
}

fn gatherHalves(first: u32, e: vec4<u32>) -> vec4<u32> {
  var out: vec4<u32>;
  for (var j = 0u; j < 4u; j++) {
    let w = 4u * first + e[j] / 2u;
    out[j] = (src[w / 4u][w % 4u] >> (16u * (e[j] % 2u))) & 0xffffu;
  }
  return out;
}

fn gatherBf16(first: u32, e: vec4<u32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(gatherHalves(first, e) << vec4<u32>(16u));
}

fn gatherF16(first: u32, e: vec4<u32>) -> vec4<f32> {
  return f16BitsToF32(gatherHalves(first, e));
}

// The elements a keep mask keeps (shaders/merge/keep.wgsl), the others +0: the rescale's Σ|kept δ|.
fn keptOnly(a: Block, keepLo: vec4<bool>, keepHi: vec4<bool>) -> Block {
  let zero = vec4<f32>(0.0);
  return Block(select(zero, a.lo, keepLo), select(zero, a.hi, keepHi));
}

// The workgroup's sum of every lane's pair (stride 32, 16, …, 1), written as partials 2·term (sum) and
// 2·term + 1 (compensation) of the group. Called in uniform control flow by every invocation.
fn groupSum(li: u32, group: u32, term: u32, acc: Compensated) {
  lanes[li] = acc.s;
  lanesC[li] = acc.c;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride >= 1u; stride = stride / 2u) {
    if (li < stride) {
      let r = twoSum(lanes[li], lanes[li + stride]);
      lanesC[li] = opaque1(opaque1(lanesC[li] + lanesC[li + stride]) + r.c);
      lanes[li] = r.s;
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    partials[(group * STATS_TERMS + term) * 2u] = lanes[0];
    partials[(group * STATS_TERMS + term) * 2u + 1u] = lanesC[0];
  }
  workgroupBarrier();
}

// ---- Selection: histogram of one radix digit, and counts of the elements equal to the threshold.

fn countDigits(keys: vec4<u32>, live: vec4<bool>) {
  for (var j = 0u; j < 4u; j++) {
    if (live[j] && (keys[j] & params.prefixMask) == params.prefix) {
      atomicAdd(&bins[(keys[j] >> params.shift) & params.digitMask], 1u);
    }
  }
}

@compute @workgroup_size(64)
fn histogram(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  for (var i = li; i < MAX_DIGITS; i += LANES) {
    atomicStore(&bins[i], 0u);
  }
  workgroupBarrier();
  let v = blockIndex(gid);
  if (v < params.blockCount) {
    let keys = selectedKeys(v);
    countDigits(keys.lo, liveLo(v));
    countDigits(keys.hi, liveHi(v));
  }
  workgroupBarrier();
  for (var i = li; i <= params.digitMask; i += LANES) {
    let c = atomicLoad(&bins[i]);
    if (c != 0u) {
      atomicAdd(&counts[i], c);
    }
  }
}

fn countTies(keys: vec4<u32>, live: vec4<bool>) -> u32 {
  return dot(select(vec4<u32>(0u), vec4<u32>(1u), live & (keys == vec4<u32>(params.prefix))), vec4<u32>(1u));
}

@compute @workgroup_size(64)
fn ties(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  if (li == 0u) {
    atomicStore(&groupTies, 0u);
  }
  workgroupBarrier();
  let v = blockIndex(gid);
  if (v < params.blockCount) {
    let keys = selectedKeys(v);
    let n = countTies(keys.lo, liveLo(v)) + countTies(keys.hi, liveHi(v));
    if (n != 0u) {
      atomicAdd(&groupTies, n);
    }
  }
  workgroupBarrier();
  if (li == 0u) {
    atomicStore(&counts[groupIndex(wid)], atomicLoad(&groupTies));
  }
}
