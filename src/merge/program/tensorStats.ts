/**
 * Whole-tensor statistics that merge methods need before they can combine a tensor element by element,
 * defined here once, exactly, so that the CPU (this file) and the GPU (shaders/merge/stats.wgsl, driven by
 * src/merge/gpu/tensorStatsGpu.ts) compute the same bits:
 *
 * - Sums of products (norms, dot products: the SLERP family, model_stock, karcher, sce's weights) and
 *   sums of magnitudes (the l1 rescale of DARE/DELLA/TIES), over dᵢ = xᵢ − base (or xᵢ), or over
 *   f32(dᵢ / divisorᵢ). A sum is blocked and compensated: groups of STATS_GROUP = 512 consecutive
 *   elements (from element 0 of the tensor); in a group, lane l (0…63) adds the f32 terms of its 8
 *   elements in index order into an f32 pair (s, c) that starts at (+0, +0), by Knuth's TwoSum:
 *   t = s + x, b = t − s, c = c + (((s − (t − b)) + (x − b)) + low), s = t (low: the exact remainder
 *   of a square term, else 0: norms sum exact squares); the 64 lane pairs are combined by a
 *   tree (stride 32, 16, …, 1) of the same TwoSum on the s parts, with c = (c₁ + c₂) + error; a group's
 *   value is s + c in f64 (s alone when s is ±Inf or NaN), and the group values are added in f64 in
 *   group order (elements past the end of the tensor add +0). Every f32 operation rounds to nearest
 *   even, and nothing is fused or reassociated. The compensation keeps the error of a group near one
 *   f32 rounding of its result even where the terms cancel (nearly orthogonal task vectors: model_stock's
 *   cosines), and the order is fixed: a GPU runs it bit for bit.
 * - Magnitude selection: the k elements of largest |dᵢ| (TIES, breadcrumbs' two cuts, DELLA's ranks are
 *   per row and elsewhere). mergekit sorts with torch.argsort; among equal magnitudes it keeps the
 *   lower indices first (torch's CPU sort is stable). The order key of |d| is the f32 bit pattern of |d|,
 *   every NaN as 0x7fc00000, above +Inf (torch sorts NaN as the largest value). A selection is returned
 *   as (threshold key T, cut index): element e is selected iff key(e) is before T in the order, or
 *   key(e) = T and e < cut — one comparison per element for the element-wise kernels.
 *
 * Tensors are streamed in chunks (TensorChunkSource), so the memory needed is a chunk's, not a tensor's.
 */
import { decodeToF32 } from '../../formats/floatArrays';
import { f32ToBits } from '../../formats/floatCodecs';
import { KERNEL_DTYPE_BYTES, type KernelDtype } from '../kernelDtype';
import { isKept, type ModelKeep, type SelectionBoundary } from './keep';
import { chainVector, type MultislerpChain } from './multislerpChain';

/** Elements per summation group: 64 lanes × 8 consecutive elements (one GPU workgroup). */
export const STATS_GROUP = 512;
export const STATS_LANES = 64;
export const STATS_LANE_ELEMENTS = 8;

/** The inputs of one tensor, every model's, read a range at a time (a file, a GPU readback, memory). */
export interface TensorChunkSource {
  readonly elementCount: number;
  readonly dtypes: readonly KernelDtype[];
  /** The bytes of elements [start, start + count) of every input, in input order. */
  read(start: number, count: number, signal?: AbortSignal): Promise<Uint8Array[]>;
}

/** What the sums are over: dᵢ = xᵢ − x_base for the inputs other than the base, or every xᵢ. */
export interface VectorsSpec {
  /** Index of the base input, subtracted from the others and not itself a vector; none: vectors are the inputs. */
  base?: number;
  /**
   * One f32 divisor per vector: the vectors are f32(dᵢ / divisorᵢ), correctly rounded (the SLERP family
   * normalises by norms; 1 leaves a vector as it is, exactly).
   */
  divisors?: readonly number[];
  /** The diagonal sums f32(dᵢ²), rounded like the other products (sce's mean squares), instead of exact squares. */
  roundedSquares?: boolean;
  /**
   * multislerp's element chain (multislerpChain.ts) over the vectors (its unit vectors: `divisors` are
   * f32(‖vᵢ‖ + eps)): one more vector c after them — m, m̂ or r — and only its sums: Σ f32(dᵢ·c) and
   * Σ c² (exact squares).
   */
  chain?: MultislerpChain;
  /**
   * One keep mask per vector (gpuElements.ts; kept elements as the task-arithmetic family's element
   * pass keeps them): only the magnitude sums, Σ|dᵢ| and Σ|dᵢ| over the kept elements (the rescale).
   */
  keeps?: readonly ModelKeep[];
  /**
   * sce's variance selection (with a base, no divisors or chain): every vector is +0 at the elements whose
   * variance across the vectors (varianceOf) is below this boundary — the elements sce's element pass
   * drops — so that the sums are over the selected elements only (sce's masked mean squares).
   */
  varianceKeep?: SelectionBoundary;
}

/** One sum of a spec: Σ dᵢ·dⱼ (exact squares on the diagonal, unless roundedSquares), Σ|dᵢ|, or Σ|dᵢ| over the kept elements. */
export type SumTerm = { kind: 'dot'; i: number; j: number } | { kind: 'l1'; i: number } | { kind: 'kept-l1'; i: number };

/**
 * The sums a spec asks for over m vectors (with a chain: m − 1 vectors and c = vector m − 1), in the
 * order the GPU writes its partials: every pair i ≤ j then every l1 by default; (i, c) for every i ≤ c
 * with a chain; every l1 then every kept l1 with keeps.
 */
export function sumTerms(spec: Pick<VectorsSpec, 'chain' | 'keeps'>, m: number): SumTerm[] {
  const all = Array.from({ length: m }, (_, i) => i);
  if (spec.chain) return all.map((i) => ({ kind: 'dot', i, j: m - 1 }));
  if (spec.keeps) return [...all.map((i): SumTerm => ({ kind: 'l1', i })), ...all.map((i): SumTerm => ({ kind: 'kept-l1', i }))];
  return [...all.flatMap((i) => all.slice(i).map((j): SumTerm => ({ kind: 'dot', i, j }))), ...all.map((i): SumTerm => ({ kind: 'l1', i }))];
}

/** Index of the chain's vector among TensorSums.vectors (it is no input). */
export const CHAIN_VECTOR = -1;

export interface TensorSums {
  /** Indices of the inputs the vectors are (every input but the base, in order; then CHAIN_VECTOR with a chain). */
  vectors: number[];
  /**
   * dots[i·m + j] = Σ f32(dᵢ·dⱼ) (symmetric), m = vectors.length; the diagonal, the squared l2 norm,
   * sums exact squares dᵢ² (exactSquares), or f32(dᵢ²) with `roundedSquares`.
   */
  dots: Float64Array;
  /** l1[i] = Σ |dᵢ|. */
  l1: Float64Array;
  /** With keeps: keptL1[i] = Σ |dᵢ| over the elements keeps[i] keeps (dropped ones add +0); else zeros. */
  keptL1: Float64Array;
}

/** The order key of a magnitude: the f32 bits of |v|, every NaN as 0x7fc00000 (above +Inf). */
export function magnitudeKey(v: number): number {
  if (Number.isNaN(v)) return 0x7fc00000;
  return (f32ToBits(v) & 0x7fffffff) >>> 0;
}

export const NAN_KEY = 0x7fc00000;

export type SelectionOrder = 'largest' | 'smallest';

/** The first `count` elements of a tensor in an order: see the top of this file. */
export interface MagnitudeSelection {
  order: SelectionOrder;
  count: number;
  /** The key of the count-th element (meaningless when count is 0: nothing is selected). */
  threshold: number;
  /** Elements with key = threshold are selected iff their index is below this. */
  cut: number;
  /** Elements strictly before the threshold in the order, and those equal to it. */
  before: number;
  equal: number;
}

/** Whether element `index` with magnitude key `key` is in `sel`. */
export function isSelected(sel: MagnitudeSelection, key: number, index: number): boolean {
  if (sel.count === 0) return false;
  if (key === sel.threshold) return index < sel.cut;
  return sel.order === 'largest' ? key > sel.threshold : key < sel.threshold;
}

const fr = Math.fround;

/** The f32 vectors dᵢ of a chunk (xᵢ − base rounded to f32, or xᵢ). */
export function chunkVectors(dtypes: readonly KernelDtype[], chunk: Uint8Array[], count: number, spec: VectorsSpec): { vectors: number[]; values: Float32Array[] } {
  const decoded = chunk.map((bytes, i) => decodeToF32(dtypes[i], bytes.subarray(0, count * KERNEL_DTYPE_BYTES[dtypes[i]])));
  const vectors: number[] = [];
  const values: Float32Array[] = [];
  const b = spec.base === undefined ? undefined : decoded[spec.base];
  decoded.forEach((x, i) => {
    if (i === spec.base) return;
    const divisor = fr(spec.divisors?.[vectors.push(i) - 1] ?? 1);
    if (!b && divisor === 1) {
      values.push(x);
      return;
    }
    const d = new Float32Array(count);
    for (let e = 0; e < count; e++) {
      const v = b ? fr(x[e] - b[e]) : x[e];
      d[e] = divisor === 1 ? v : v / divisor; // the f64 quotient of two f32 values, rounded once: correctly rounded
    }
    values.push(d);
  });
  if (spec.chain) {
    const c = new Float32Array(count);
    chainVector(values, count, spec.chain, c);
    vectors.push(CHAIN_VECTOR);
    values.push(c);
  }
  return { vectors, values };
}

/** Chunk sizes for streaming: whole groups, so that a chunk boundary never splits a summation group. */
export function statsChunkElements(preferred: number): number {
  return Math.max(STATS_GROUP, Math.floor(preferred / STATS_GROUP) * STATS_GROUP);
}


/**
 * Joins a group's STATS_LANES lane sums s[o…] and their compensations c[o…] by the tree the GPU
 * uses (TwoSum at every level, lanes halved each step) and returns the group's value. Leaves the
 * lanes dirty: the caller clears them.
 */
export function foldLanes(s: Float32Array | Float64Array, c: Float32Array | Float64Array, o: number): number {
  for (let stride = STATS_LANES / 2; stride >= 1; stride /= 2) {
    for (let l = o; l < o + stride; l++) {
      const a = s[l];
      const x = s[l + stride];
      const t = fr(a + x);
      const b = fr(t - a);
      c[l] = fr(fr(c[l] + c[l + stride]) + fr(fr(a - fr(t - b)) + fr(x - b)));
      s[l] = t;
    }
  }
  return groupValue(s[o], c[o]);
}

/**
 * The blocked, compensated sum (see the top of this file) of f32 terms fed in element order from
 * element 0, in pieces of any length: a method's statistics pass sees the runner's chunks, the GPU
 * whole groups, and both get the same bits.
 */
export class BlockedSum {
  // f32 values: each lane's running sum and its compensation.
  private readonly s = new Float64Array(STATS_LANES);
  private readonly c = new Float64Array(STATS_LANES);
  /** Elements of the current group fed so far. */
  private at = 0;
  /** f64 sum of the closed groups, in group order. */
  private total = 0;

  /**
   * Adds terms[0 .. count) (f32 values) as the next elements; `lows`, when given, are the exact
   * remainders of the terms (an exact square: term + low), added to the compensation.
   */
  add(terms: ArrayLike<number>, count = terms.length, lows?: ArrayLike<number>): void {
    const { s, c } = this;
    let at = this.at;
    let e = 0;
    while (e < count) {
      // One lane's run of consecutive elements (up to STATS_LANE_ELEMENTS), in locals.
      const l = at >> 3;
      const run = Math.min(STATS_LANE_ELEMENTS - (at & 7), count - e);
      let sv = s[l];
      let cv = c[l];
      for (const end = e + run; e < end; e++) {
        const x = terms[e];
        const t = fr(sv + x);
        const b = fr(t - sv);
        const err = fr(fr(sv - fr(t - b)) + fr(x - b));
        cv = fr(cv + (lows ? fr(err + lows[e]) : fr(err + 0)));
        sv = t;
      }
      s[l] = sv;
      c[l] = cv;
      at += run;
      if (at === STATS_GROUP) {
        this.closeGroup();
        at = 0;
      }
    }
    this.at = at;
  }

  /** The sum of everything fed; a partial last group is padded with +0 terms, as on the GPU. */
  sum(): number {
    if (this.at > 0) {
      const pad = new Float32Array(STATS_GROUP - this.at);
      this.add(pad);
    }
    return this.total;
  }

  private closeGroup(): void {
    const { s, c } = this;
    this.total += foldLanes(s, c, 0);
    s.fill(0);
    c.fill(0);
  }
}

/**
 * The exact squares of values[0 .. count): hi = f32(v²), lo = v² − hi exactly (Dekker's product with
 * Veltkamp's split, f32 operations only — what a GPU computes without f64), for the norms: the sums of
 * squares are exact-square sums, as the reference norms are.
 */
export function exactSquares(values: ArrayLike<number>, count: number, hi: Float32Array, lo: Float32Array): void {
  for (let e = 0; e < count; e++) {
    const v = values[e];
    const p = fr(v * v);
    const k = fr(v * 4097);
    const h = fr(k - fr(k - v));
    const r = fr(v - h);
    const hr = fr(h * r);
    hi[e] = p;
    lo[e] = fr(fr(fr(fr(h * h) - p) + hr) + hr) + fr(r * r);
  }
}

/** A group's value from its sum and compensation (both f32): s + c in f64, or s alone when it is not finite. */
export function groupValue(s: number, c: number): number {
  return Number.isFinite(s) ? s + c : s;
}

/** The sums `spec` asks for (sumTerms) over the whole tensor, streamed in chunks of about `chunkElements`. */
export async function tensorSums(source: TensorChunkSource, spec: VectorsSpec, chunkElements = 1 << 20, signal?: AbortSignal): Promise<TensorSums> {
  if (spec.varianceKeep && (spec.base === undefined || spec.divisors || spec.chain)) throw new RangeError('tensor sums: a variance selection needs a base and plain task vectors');
  const vectors = source.dtypes.map((_, i) => i).filter((i) => i !== spec.base);
  if (spec.chain) vectors.push(CHAIN_VECTOR);
  const m = vectors.length;
  const terms = sumTerms(spec, m);
  const blocked = terms.map(() => new BlockedSum());
  const step = statsChunkElements(chunkElements);
  const t = new Float32Array(Math.min(step, source.elementCount));
  const lows = new Float32Array(t.length);
  for (let start = 0; start < source.elementCount; start += step) {
    const count = Math.min(step, source.elementCount - start);
    const { values } = chunkVectors(source.dtypes, await source.read(start, count, signal), count, spec);
    if (spec.varianceKeep) keepByVariance(values, count, start, spec.varianceKeep);
    terms.forEach((term, k) => {
      const di = values[term.i];
      if (term.kind === 'dot' && term.i === term.j && !spec.roundedSquares) {
        exactSquares(di, count, t, lows);
        blocked[k].add(t, count, lows);
        return;
      }
      if (term.kind === 'dot') {
        const dj = values[term.j];
        for (let e = 0; e < count; e++) t[e] = di[e] * dj[e];
      } else if (term.kind === 'l1') {
        for (let e = 0; e < count; e++) t[e] = Math.abs(di[e]);
      } else {
        const keep = spec.keeps![term.i];
        for (let e = 0; e < count; e++) t[e] = isKept(keep, di[e], start + e) ? Math.abs(di[e]) : 0;
      }
      blocked[k].add(t, count);
    });
  }
  const sums: TensorSums = { vectors, dots: new Float64Array(m * m), l1: new Float64Array(m), keptL1: new Float64Array(m) };
  terms.forEach((term, k) => addTerm(sums, term, blocked[k].sum()));
  return sums;
}

/**
 * Zeroes (+0) the task vectors `values` (f32(xᵢ − base), fresh arrays) at the elements of the chunk at
 * `start` that sce's selection drops: whose variance key across the vectors is below `boundary` (the
 * test isKept applies to TIES's magnitudes, here to the variance, as shaders/merge/stats.wgsl does).
 */
export function keepByVariance(values: Float32Array[], count: number, start: number, boundary: SelectionBoundary): void {
  const n = values.length;
  const d = new Float32Array(n);
  const keep: ModelKeep = { kind: 'largest', below: boundary };
  for (let e = 0; e < count; e++) {
    for (let i = 0; i < n; i++) d[i] = values[i][e];
    if (!isKept(keep, varianceOf(d, n), start + e)) for (let i = 0; i < n; i++) values[i][e] = 0;
  }
}

/** Adds one term's value to `sums` (both triangles of a dot product). */
export function addTerm(sums: TensorSums, term: SumTerm, value: number): void {
  const m = sums.vectors.length;
  if (term.kind === 'l1') sums.l1[term.i] += value;
  else if (term.kind === 'kept-l1') sums.keptL1[term.i] += value;
  else {
    sums.dots[term.i * m + term.j] += value;
    if (term.i !== term.j) sums.dots[term.j * m + term.i] += value;
  }
}

/** Radix digits of the selection: 11 + 11 + 10 bits, most significant first. */
export const RADIX_PASSES: readonly { shift: number; bits: number }[] = [
  { shift: 21, bits: 11 },
  { shift: 10, bits: 11 },
  { shift: 0, bits: 10 },
];

/**
 * One radix step shared by the CPU and GPU selections: given the histogram of digit values among the
 * elements whose higher digits equal the prefix chosen so far, the digit of the wanted element and how
 * many of those elements come before that digit's bin in the order.
 */
export function pickDigit(histogram: ArrayLike<number>, order: SelectionOrder, rank: number): { digit: number; before: number; inBin: number } {
  let before = 0;
  const n = histogram.length;
  for (let step = 0; step < n; step++) {
    const digit = order === 'largest' ? n - 1 - step : step;
    const c = histogram[digit];
    if (before + c > rank) return { digit, before, inBin: c };
    before += c;
  }
  throw new Error(`pickDigit: rank ${rank} is beyond the ${before} elements counted`);
}

/** Index of the q-th (1-based) element with key = threshold, given per-group counts of such elements. */
export function tieGroup(groupTies: ArrayLike<number>, q: number): { group: number; within: number } {
  let seen = 0;
  for (let g = 0; g < groupTies.length; g++) {
    if (seen + groupTies[g] >= q) return { group: g, within: q - seen };
    seen += groupTies[g];
  }
  throw new Error(`tieGroup: ${q} ties wanted, ${seen} counted`);
}

/** The magnitude keys of input `which` (minus input `base`, if any) over one chunk. */
export function chunkKeys(source: TensorChunkSource, chunk: Uint8Array[], count: number, which: number, base: number | undefined): Uint32Array {
  const x = decodeToF32(source.dtypes[which], chunk[which].subarray(0, count * KERNEL_DTYPE_BYTES[source.dtypes[which]]));
  const keys = new Uint32Array(count);
  if (base === undefined) {
    for (let e = 0; e < count; e++) keys[e] = magnitudeKey(x[e]);
  } else {
    const b = decodeToF32(source.dtypes[base], chunk[base].subarray(0, count * KERNEL_DTYPE_BYTES[source.dtypes[base]]));
    for (let e = 0; e < count; e++) keys[e] = magnitudeKey(fr(x[e] - b[e]));
  }
  return keys;
}

/**
 * sce's variance across n task vectors dᵢ (d[0 .. n)), as mergekit's torch.var(unbiased=False) in f32:
 * mean = f32(Σ dᵢ / n), var = f32(Σ f32((dᵢ − mean)²) / n), both sums in model order.
 */
export function varianceOf(d: ArrayLike<number>, n: number): number {
  let s = d[0];
  for (let i = 1; i < n; i++) s = fr(s + d[i]);
  const mean = fr(s / n);
  let q = 0;
  for (let i = 0; i < n; i++) {
    const t = fr(d[i] - mean);
    q = i === 0 ? fr(t * t) : fr(q + fr(t * t));
  }
  return fr(q / n);
}

/** What a selection ranks: |x_input − x_base| (or |x_input|), or the variance across every input but the base (sce). */
export type SelectionKey = { kind: 'magnitude'; input: number; base: number | undefined } | { kind: 'variance'; base: number };

/** The order keys of `key` over one chunk. */
export function chunkSelectionKeys(source: TensorChunkSource, chunk: Uint8Array[], count: number, key: SelectionKey): Uint32Array {
  if (key.kind === 'magnitude') return chunkKeys(source, chunk, count, key.input, key.base);
  const { values } = chunkVectors(source.dtypes, chunk, count, { base: key.base });
  const n = values.length;
  const d = new Float32Array(n);
  const keys = new Uint32Array(count);
  for (let e = 0; e < count; e++) {
    for (let i = 0; i < n; i++) d[i] = values[i][e];
    keys[e] = magnitudeKey(varianceOf(d, n));
  }
  return keys;
}

/**
 * The first `count` elements of input `which` (minus the base input, if any) in order of magnitude,
 * ties by index: three radix passes over the tensor and, if the cut falls inside a run of equal
 * magnitudes, one more to find where.
 */
export async function selectByMagnitude(source: TensorChunkSource, which: number, base: number | undefined, order: SelectionOrder, count: number, chunkElements = 1 << 20, signal?: AbortSignal): Promise<MagnitudeSelection> {
  return selectByKey(source, { kind: 'magnitude', input: which, base }, order, count, chunkElements, signal);
}

/** The first `count` elements in the order of `key`, ties by index (the CPU twin of the GPU's selection). */
export async function selectByKey(source: TensorChunkSource, key: SelectionKey, order: SelectionOrder, count: number, chunkElements = 1 << 20, signal?: AbortSignal): Promise<MagnitudeSelection> {
  const n = source.elementCount;
  if (!Number.isInteger(count) || count < 0 || count > n) throw new RangeError(`selectByMagnitude: cannot select ${count} of ${n} elements`);
  if (count === 0) return { order, count, threshold: 0, cut: 0, before: 0, equal: 0 };
  const step = statsChunkElements(chunkElements);
  const eachChunk = async (visit: (keys: Uint32Array, start: number) => void): Promise<void> => {
    for (let start = 0; start < n; start += step) {
      const c = Math.min(step, n - start);
      visit(chunkSelectionKeys(source, await source.read(start, c, signal), c, key), start);
    }
  };
  const histogramOf = async (prefix: number, prefixMask: number, shift: number, bits: number): Promise<Float64Array> => {
    const histogram = new Float64Array(1 << bits);
    const digitMask = (1 << bits) - 1;
    await eachChunk((keys) => {
      for (const k of keys) if (((k & prefixMask) >>> 0) === prefix) histogram[(k >>> shift) & digitMask]++;
    });
    return histogram;
  };
  const locateTie = async (threshold: number, q: number): Promise<number> => {
    let seen = 0;
    let cut = -1;
    await eachChunk((keys, start) => {
      for (let e = 0; e < keys.length && cut < 0; e++) if (keys[e] === threshold && ++seen === q) cut = start + e + 1;
    });
    return cut;
  };
  return radixSelect(order, count, histogramOf, locateTie);
}

/**
 * The radix selection both backends run: `histogramOf` counts the digit values (bits above `shift`) of
 * the keys whose masked bits equal `prefix`; `locateTie` gives the index + 1 of the q-th element whose
 * key is `threshold` (only called when the cut falls inside a run of equal magnitudes).
 */
export async function radixSelect(
  order: SelectionOrder,
  count: number,
  histogramOf: (prefix: number, prefixMask: number, shift: number, bits: number) => Promise<ArrayLike<number>>,
  locateTie: (threshold: number, q: number) => Promise<number>,
): Promise<MagnitudeSelection> {
  let prefix = 0;
  let prefixMask = 0;
  let rank = count - 1;
  let before = 0;
  let equal = 0;
  for (const { shift, bits } of RADIX_PASSES) {
    const picked = pickDigit(await histogramOf(prefix, prefixMask, shift, bits), order, rank);
    rank -= picked.before;
    before += picked.before;
    equal = picked.inBin;
    prefix = (prefix | (picked.digit << shift)) >>> 0;
    prefixMask = (prefixMask | (((1 << bits) - 1) << shift)) >>> 0;
  }
  // Every element equal to the threshold selected: no index needs comparing.
  const cut = rank + 1 === equal ? Number.MAX_SAFE_INTEGER : await locateTie(prefix, rank + 1);
  return { order, count, threshold: prefix, before, equal, cut };
}
