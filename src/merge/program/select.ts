/**
 * Exact rank selection over a stream of non-negative f32 keys (|δ|, a variance), in flat memory:
 * what mergekit gets from sorting a whole tensor (argsort, topk), done in three streaming passes.
 *
 * The order is the stable ascending order of (key, element index); NaN keys sort above +Inf (as
 * torch's sort puts NaN last). `rank` r (0-based) names the boundary "the r smallest elements": after
 * the passes, an element is among them iff key < value, or key == value and index < cutIndex.
 *
 *   radix-high: a 65536-bin histogram of the key bits' high 16 bits → the bucket holding rank r;
 *   radix-low:  a 65536-bin histogram of the low 16 bits within that bucket → the exact key value;
 *   tie-cut:    elements equal to the value, counted in element order → the index where a stable
 *               sort cuts them (Infinity when every tie is below the boundary).
 *
 * Memory: two 256 KiB histograms per selection, whatever the tensor's size. Partial histograms and
 * tie counts of chunks add up, so a GPU can compute them per workgroup.
 *
 * Ties: torch's argsort/topk leave the order of equal keys unspecified; SoupLab fixes it as the stable
 * ascending order, so "the k largest" (TIES) is the complement of the numel − k smallest and keeps, of
 * a run of equal keys at the boundary, the ones with the highest indices.
 */
import type { SelectionBoundary } from './keep';
import type { ElementChunk, StatisticsPass } from './tensorProgram';

export interface Selection {
  /** Key bits at the boundary (see the top of the file). */
  valueBits: number;
  /** Elements with key == value and index < cutIndex are below the boundary (all of them: Infinity). */
  cutIndex: number;
  /** Elements strictly below the value. */
  below: number;
}

/** keyBits() of every value, into `into` (which may view the same memory as `values`: in place). */
export function keysOf(values: Float32Array, into: Uint32Array): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const u = bits[i] & 0x7fffffff;
    into[i] = u > 0x7f800000 ? 0x7fc00000 : u;
  }
}

/** A Float32Array and a Uint32Array on the same memory, grown as chunks need: one per key stream. */
export class KeyScratch {
  private f32 = new Float32Array(0);
  private u32 = new Uint32Array(0);

  private grow(count: number): void {
    if (this.f32.length >= count) return;
    this.f32 = new Float32Array(count);
    this.u32 = new Uint32Array(this.f32.buffer);
  }

  /** The first `count` values (the memory bits() views). */
  values(count: number): Float32Array {
    this.grow(count);
    return this.f32.subarray(0, count);
  }

  bits(count: number): Uint32Array {
    this.grow(count);
    return this.u32.subarray(0, count);
  }
}

/** The keys of |f32(x_input − x_base)| over a chunk (magnitudes of a task vector), in `scratch`. */
export function deltaKeys(c: ElementChunk, input: number, base: number, scratch: KeyScratch): Uint32Array {
  const count = c.count;
  const values = scratch.values(count);
  const bits = scratch.bits(count);
  const x = c.x[input];
  const b = c.x[base];
  // One loop: the f32 delta stored (rounded), its bits read back as the key. (With two loops V8
  // compiled the first on the fly and threw the code away at the second, call after call.)
  for (let i = 0; i < count; i++) {
    values[i] = x[i] - b[i];
    const u = bits[i] & 0x7fffffff;
    bits[i] = u > 0x7f800000 ? 0x7fc00000 : u;
  }
  return bits;
}

/** Selects the boundary of the `rank` smallest keys (0 ≤ rank ≤ count of elements). */
export class RankSelector {
  private readonly high = new Float64Array(65536);
  private readonly low = new Float64Array(65536);
  private bucket = -1;
  private belowBucket = 0;
  private lowValue = -1;
  private belowValue = 0;
  private ties = 0;
  private tiesSeen = 0;
  result: Selection | undefined;

  constructor(
    /** The keys (keyBits()) of elements [0, chunk.count) of the chunk; the array may be reused by the next call. */
    private readonly keys: (chunk: ElementChunk) => Uint32Array,
    private readonly rankOf: () => number,
    /**
     * The key is |x_input − x_base| (keyBits), or with `variance` the variance across every input but the
     * base (tensorStats.ts varianceOf): a GPU backend may compute the selection itself (gpuElements.ts).
     */
    private readonly gpuKey?: { input: number; base: number | undefined } | { variance: true; base: number },
  ) {}

  /** Set by a GPU backend's answer: the passes' own finish() then leave the result alone. */
  private answered = false;

  passes(label: string): StatisticsPass[] {
    const rankFn = () => this.rankOf();
    const gpuKey = this.gpuKey;
    return [
      {
        kind: 'radix-high',
        label: `${label} (high bits)`,
        gpu: gpuKey && [
          {
            kind: 'selection',
            ...('variance' in gpuKey ? { input: 0, base: gpuKey.base, variance: true } : { input: gpuKey.input, base: gpuKey.base }),
            rank: rankFn,
            accept: (b: SelectionBoundary) => {
              this.result = { valueBits: b.valueBits, cutIndex: b.cutIndex, below: b.below };
              this.answered = true;
            },
          },
        ],
        accumulate: (c) => {
          const keys = this.keys(c);
          const high = this.high;
          for (let i = 0; i < c.count; i++) high[keys[i] >>> 16]++;
        },
        finish: () => {
          if (this.answered) return;
          const r = rankFn();
          let acc = 0;
          for (let b = 0; b < 65536; b++) {
            if (acc + this.high[b] > r) {
              this.bucket = b;
              this.belowBucket = acc;
              return;
            }
            acc += this.high[b];
          }
          this.bucket = 65536; // rank == count: the boundary is above every key
          this.belowBucket = acc;
        },
      },
      {
        kind: 'radix-low',
        label: `${label} (low bits)`,
        gpu: gpuKey && [{ kind: 'covered' }],
        accumulate: (c) => {
          if (this.bucket >= 65536) return;
          const keys = this.keys(c);
          const { low, bucket } = this;
          for (let i = 0; i < c.count; i++) {
            const k = keys[i];
            if (k >>> 16 === bucket) low[k & 0xffff]++;
          }
        },
        finish: () => {
          if (this.answered) return;
          if (this.bucket >= 65536) {
            this.result = { valueBits: 0xffffffff, cutIndex: 0, below: this.belowBucket };
            return;
          }
          const r = rankFn() - this.belowBucket;
          let acc = 0;
          for (let b = 0; b < 65536; b++) {
            if (acc + this.low[b] > r) {
              this.lowValue = b;
              this.belowValue = this.belowBucket + acc;
              this.ties = r - acc; // ties to count below the boundary, in stable order
              return;
            }
            acc += this.low[b];
          }
        },
      },
      {
        kind: 'tie-cut',
        label: `${label} (ties)`,
        gpu: gpuKey && [{ kind: 'covered' }],
        accumulate: (c) => {
          if (this.result || this.cut !== undefined) return;
          const value = ((this.bucket << 16) | this.lowValue) >>> 0;
          const keys = this.keys(c);
          for (let i = 0; i < c.count; i++) {
            if (keys[i] !== value) continue;
            if (this.tiesSeen === this.ties) {
              this.cut = c.offset + i;
              return;
            }
            this.tiesSeen++;
          }
        },
        finish: () => {
          if (this.result) return;
          const value = ((this.bucket << 16) | this.lowValue) >>> 0;
          this.result = { valueBits: value, cutIndex: this.cut ?? Infinity, below: this.belowValue };
        },
      },
    ];
  }

  private cut: number | undefined;
}

/** Whether element `index` with key bits `k` is among the selected smallest. */
export function isBelow(sel: Selection, k: number, index: number): boolean {
  return k < sel.valueBits || (k === sel.valueBits && index < sel.cutIndex);
}

