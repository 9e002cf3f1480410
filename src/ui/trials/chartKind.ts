/** Which chart shows the objective over the grid: a line over w₁ (2 ingredients), a ternary plot (3), else ranked bars. */
export type ObjectiveChartKind = 'line' | 'ternary' | 'bars';

export function objectiveChartKind(ingredients: number): ObjectiveChartKind {
  return ingredients === 2 ? 'line' : ingredients === 3 ? 'ternary' : 'bars';
}

/** Maps a value within [min, max] to [0, 1]; a flat range maps to 0.5. */
export function unitScale(v: number, min: number, max: number): number {
  return max > min ? (v - min) / (max - min) : 0.5;
}
