import { nnlsNormal } from './nnls';

/** Names that say a column summarises others ("Overall Acc", "Average ⬆️", "AST Summary", "Total"). */
export const AGGREGATE_NAME = /\b(overall|summary|total|average|avg|mean|aggregate|aggregated)\b/i;

/**
 * A trailing "Acc"/"Accuracy" marks an aggregate only when it sets a column apart: on BFCL the
 * aggregates are "Overall Acc", "Live Acc", … while leaves are "Live Simple AST", "Multi Turn Base".
 * In a table where every column ends in "acc" it says nothing.
 */
export const AGGREGATE_SUFFIX = /\bacc(uracy)?\s*$/i;

/** Numeric columns that are not benchmark scores: rank, cost, latency, size, dates, likes (Hub ❤️), a merge generation… */
export const METADATA_NAME =
  /\b(rank|ranking|cost|price|latency|time|duration|speed|throughput|parameters|size|date|year|version|tokens|licen[cs]e|link|url|votes?|downloads?|likes|stderr|stddev)\b|^\W*#?\s*params?\b|#\s*params?\b|\$|^#$|^(no|id|index|row|generation)$|^unnamed:?\s*\d*$|^\(column \d+\)$|\bhearts?\b|\bstars?\b|❤/i;

export interface DerivedColumn {
  /** Index of the column found to be a combination of the others. */
  column: number;
  /** Non-negative weights over the other columns (same indexing as the input; 0 for itself). */
  weights: number[];
  /** Largest absolute difference between the column and the combination, over complete rows. */
  maxResidual: number;
}

/**
 * Finds columns that are non-negative weighted combinations of other columns (means, weighted means,
 * sums), exactly up to the rounding of the table. Each column is fitted by non-negative least squares
 * on the others over the rows where all columns are present; it counts as derived when the largest
 * residual is under `relTolerance` of its range and at least two columns carry weight. Leaves are
 * never derived this way: a leaf equals "k × mean − the other leaves", which needs negative weights.
 * Needs enough complete rows to mean something (≥ 2 × columns + 5); with fewer it finds nothing.
 */
export function findDerivedColumns(columns: Float64Array[], relTolerance = 0.002): DerivedColumn[] {
  const k = columns.length;
  if (k < 3) return [];
  const rows = columns[0].length;
  const complete: number[] = [];
  for (let r = 0; r < rows; r++) {
    let ok = true;
    for (let c = 0; c < k && ok; c++) if (Number.isNaN(columns[c][r])) ok = false;
    if (ok) complete.push(r);
  }
  if (complete.length < 2 * k + 5) return [];

  // Complete rows packed column by column, so the Gram products run over contiguous memory.
  const rowsN = complete.length;
  const packed = columns.map((c) => gather(c, complete));
  const gram = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) {
      let s = 0;
      const a = packed[i];
      const b = packed[j];
      for (let r = 0; r < rowsN; r++) s += a[r] * b[r];
      gram[i * k + j] = s;
      gram[j * k + i] = s;
    }
  const found: DerivedColumn[] = [];
  const m = k - 1;
  for (let target = 0; target < k; target++) {
    const others = [...Array(k).keys()].filter((i) => i !== target);
    const G = new Float64Array(m * m);
    const c = new Float64Array(m);
    others.forEach((i, a) => {
      c[a] = gram[i * k + target];
      others.forEach((j, b) => (G[a * m + b] = gram[i * k + j]));
    });
    const x = nnlsNormal(G, c, m);
    const y = columns[target];
    const used = others.flatMap((i, a) => (x[a] !== 0 ? [{ col: columns[i], w: x[a] }] : []));
    let lo = Infinity;
    let hi = -Infinity;
    let maxResidual = 0;
    for (const r of complete) {
      let fit = 0;
      for (const u of used) fit += u.w * u.col[r];
      maxResidual = Math.max(maxResidual, Math.abs(fit - y[r]));
      lo = Math.min(lo, y[r]);
      hi = Math.max(hi, y[r]);
    }
    const range = hi - lo;
    const total = x.reduce((s, v) => s + v, 0);
    const carrying = Array.from(x).filter((v) => v > 0.01 * total).length;
    if (range > 0 && maxResidual <= relTolerance * range && carrying >= 2) {
      const weights = new Array<number>(k).fill(0);
      others.forEach((i, a) => (weights[i] = x[a]));
      found.push({ column: target, weights, maxResidual });
    }
  }
  return found;
}

/** values[rows[i]] for each i, as a Float64Array (plain loop: typed-array from() with a map is slow). */
export function gather(values: ArrayLike<number>, rows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]];
  return out;
}

/** Scores with null as NaN, the form the numeric kernels take. */
export function toFloat64(values: readonly (number | null)[], rows?: ArrayLike<number>): Float64Array {
  const n = rows ? rows.length : values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[rows ? rows[i] : i];
    out[i] = v === null || v === undefined ? NaN : v;
  }
  return out;
}

