import type { AnalysisResult } from '../../analysis';

/** One cell of the heatmap, in heatmap (dendrogram leaf) order. */
export interface HeatCell {
  row: number;
  col: number;
  rowName: string;
  colName: string;
  /** null: undefined (fewer than 3 shared models, or a constant score). */
  rho: number | null;
  n: number;
  /** |ρ| < τ off the diagonal: a weakly correlated pair, which puts both categories into L under either rule. */
  low: boolean;
  /** ρ ≤ −τ off the diagonal (and ρ < 0): an anti-correlated pair, which puts both into L under the default rule ρ < τ only. */
  anti: boolean;
}

/** A cluster as a contiguous block of heatmap rows. */
export interface ClusterBlock {
  label: string;
  start: number;
  /** Exclusive. */
  end: number;
  meanCorrelation: number | null;
}

export interface HeatmapModel {
  order: string[];
  cells: HeatCell[];
  blocks: ClusterBlock[];
  lowCount: number;
  /** Cells marked anti-correlated (each pair twice, like `lowCount`). */
  antiCount: number;
  undefinedCount: number;
}

/** Lays out the analysis's correlation matrix in cluster order, marking weak (|ρ| < τ) and anti-correlated (ρ ≤ −τ) pairs. */
export function heatmapModel(a: AnalysisResult): HeatmapModel {
  const order = a.heatmapOrder;
  const index = order.map((c) => a.categories.indexOf(c));
  const { r, n } = a.correlation;
  const cells: HeatCell[] = [];
  let lowCount = 0;
  let antiCount = 0;
  let undefinedCount = 0;
  for (let i = 0; i < order.length; i++)
    for (let j = 0; j < order.length; j++) {
      const rho = r[index[i]][index[j]];
      const low = i !== j && rho !== null && Math.abs(rho) < a.tau;
      // Weak or anti, never both: together they are exactly the pairs with ρ < τ, the default rule's.
      const anti = i !== j && rho !== null && rho < 0 && !low;
      if (low) lowCount++;
      if (anti) antiCount++;
      if (rho === null) undefinedCount++;
      cells.push({ row: i, col: j, rowName: order[i], colName: order[j], rho, n: n[index[i]][index[j]], low, anti });
    }
  const blocks: ClusterBlock[] = [];
  for (const cl of a.clusters) {
    const start = order.indexOf(cl.categories[0]);
    blocks.push({ label: cl.label, start, end: start + cl.categories.length, meanCorrelation: cl.meanCorrelation });
  }
  return { order, cells, blocks, lowCount, antiCount, undefinedCount };
}

/** Moves the active cell by a key of the grid pattern; null for keys the grid does not handle. */
export function moveInGrid(key: string, row: number, col: number, size: number, ctrl = false): [number, number] | null {
  const last = size - 1;
  switch (key) {
    case 'ArrowRight':
      return [row, Math.min(last, col + 1)];
    case 'ArrowLeft':
      return [row, Math.max(0, col - 1)];
    case 'ArrowDown':
      return [Math.min(last, row + 1), col];
    case 'ArrowUp':
      return [Math.max(0, row - 1), col];
    case 'Home':
      return ctrl ? [0, 0] : [row, 0];
    case 'End':
      return ctrl ? [last, last] : [row, last];
    case 'PageDown':
      return [last, col];
    case 'PageUp':
      return [0, col];
    default:
      return null;
  }
}

/** "0.07", "−0.48" (a true minus sign), "undefined". */
export function formatRho(rho: number | null): string {
  if (rho === null) return 'undefined';
  const s = Math.abs(rho).toFixed(2);
  return rho < 0 && s !== '0.00' ? `−${s}` : s;
}
