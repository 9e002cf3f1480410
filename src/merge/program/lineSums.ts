/**
 * Per-row and per-column statistics (nuslerp without flatten, model_stock's filter_wise): the blocked,
 * compensated sums of tensorStats.ts, each line (row or column) summed on its own as if it were a
 * tensor — its elements in line order from its first, groups of STATS_GROUP from there, lane runs of
 * STATS_LANE_ELEMENTS, the tree, the group values added in f64 in group order, a partial last group
 * padded with +0. The GPU (src/merge/gpu/tensorStatsGpu.ts lineSums, shaders/merge/stats.wgsl `lineSums`) computes the
 * same bits.
 *
 * A row is contiguous, so only the current row's lanes are kept (the runner's chunks may split it); the
 * columns all advance together as the rows of the matrix stream past, so every column keeps its lanes:
 * 512 bytes per column and sum.
 */
import { STATS_GROUP, STATS_LANE_ELEMENTS, STATS_LANES, foldLanes } from './tensorStats';
import type { Grouping } from './groups';

/** How the lines of a tensor lie in it: element k of line l is at l·lineStride + k·elementStride. */
export interface Lines {
  grouping: Exclude<Grouping, 'tensor'>;
  count: number;
  /** Elements per line. */
  length: number;
  lineStride: number;
  elementStride: number;
}

/** The rows (the last dimension) or the columns (every index but the first) of a tensor of `shape`, as groups.ts defines them. */
export function linesOf(grouping: Exclude<Grouping, 'tensor'>, shape: readonly number[]): Lines {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (grouping === 'row') {
    const length = shape[shape.length - 1];
    return { grouping, count: numel / length, length, lineStride: length, elementStride: 1 };
  }
  const stride = numel / shape[0];
  return { grouping, count: stride, length: shape[0], lineStride: 1, elementStride: stride };
}

/** The line of tensor element e, and its position in that line. */
export function lineOf(lines: Lines, e: number): { line: number; at: number } {
  return lines.grouping === 'row' ? { line: Math.floor(e / lines.length), at: e % lines.length } : { line: e % lines.count, at: Math.floor(e / lines.count) };
}

/** visit(i, line, position in line) for elements offset … offset + count − 1 of the tensor, in order. */
export function forEachInLines(lines: Lines, offset: number, count: number, visit: (i: number, line: number, at: number) => void): void {
  const row = lines.grouping === 'row';
  const period = row ? lines.length : lines.count;
  let q = Math.floor(offset / period);
  let r = offset - q * period;
  for (let i = 0; i < count; i++) {
    if (row) visit(i, q, r);
    else visit(i, r, q);
    if (++r === period) {
      r = 0;
      q++;
    }
  }
}

const fr = Math.fround;

/**
 * `terms` blocked sums per line, fed one element at a time in tensor order (each line's elements then
 * come in line order). value(line, term) once the line is complete.
 */
export class LineSums {
  private readonly s: Float32Array;
  private readonly c: Float32Array;
  private readonly totals: Float64Array;

  constructor(
    readonly lines: Lines,
    readonly terms: number,
  ) {
    const slots = (lines.grouping === 'row' ? 1 : lines.count) * terms;
    this.s = new Float32Array(slots * STATS_LANES);
    this.c = new Float32Array(slots * STATS_LANES);
    this.totals = new Float64Array(lines.count * terms);
  }

  /** Adds the f32 term x (and the exact remainder `low` of a square) at position `at` of `line`. */
  add(line: number, term: number, at: number, x: number, low = 0): void {
    const slot = (this.lines.grouping === 'row' ? 0 : line) * this.terms + term;
    const lane = slot * STATS_LANES + ((at % STATS_GROUP) >> 3);
    const { s, c } = this;
    const sv = s[lane];
    const t = fr(sv + x);
    const b = fr(t - sv);
    const err = fr(fr(sv - fr(t - b)) + fr(x - b));
    c[lane] = fr(c[lane] + fr(err + low));
    s[lane] = t;
    const last = at === this.lines.length - 1;
    if (last && (at & 7) !== 7) {
      // The partial last lane, padded with +0 (the lanes after it stay (+0, +0) as padding leaves them).
      for (let k = (at & 7) + 1; k < STATS_LANE_ELEMENTS; k++) {
        const u = s[lane];
        const tt = fr(u + 0);
        const bb = fr(tt - u);
        c[lane] = fr(c[lane] + fr(fr(fr(u - fr(tt - bb)) + fr(0 - bb)) + 0));
        s[lane] = tt;
      }
    }
    if (last || at % STATS_GROUP === STATS_GROUP - 1) this.closeGroup(slot, line * this.terms + term);
  }

  /** Adds f32(v²) with its exact remainder (tensorStats.ts exactSquares): the norms. */
  addSquare(line: number, term: number, at: number, v: number): void {
    const p = fr(v * v);
    const k = fr(v * 4097);
    const h = fr(k - fr(k - v));
    const r = fr(v - h);
    const hr = fr(h * r);
    this.add(line, term, at, p, fr(fr(fr(fr(fr(h * h) - p) + hr) + hr) + fr(r * r)));
  }

  /** The sum of `term` over `line` (complete). */
  value(line: number, term: number): number {
    return this.totals[line * this.terms + term];
  }

  private closeGroup(slot: number, total: number): void {
    const { s, c } = this;
    const o = slot * STATS_LANES;
    this.totals[total] += foldLanes(s, c, o);
    s.fill(0, o, o + STATS_LANES);
    c.fill(0, o, o + STATS_LANES);
  }
}
