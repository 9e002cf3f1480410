import type { ProblemCode, TableProblem } from './rawTable';

/** Problems of one kind, for a summary line ("38 repeated model names") above the full list. */
export interface ProblemGroup {
  code: ProblemCode | null;
  /** Plural noun phrase for the count ("repeated model names (the first row of each is kept)"). */
  label: string;
  problems: TableProblem[];
}

const LABELS: Record<ProblemCode, [one: string, many: string]> = {
  'repeated-model': ['repeated model name (its first row is kept)', 'repeated model names (the first row of each is kept)'],
  'unnamed-row': ['row without a model name (skipped)', 'rows without a model name (skipped)'],
  'not-a-number': ['cell that is not a number (treated as missing)', 'cells that are not numbers (treated as missing)'],
  'ragged-row': ['row longer than the header (extra cells ignored)', 'rows longer than the header (extra cells ignored)'],
  'set-aside': ['result column left out of the categories', 'result columns left out of the categories'],
  direction: ['category running against the overall score', 'categories running against the overall score'],
};

/** Groups problems by kind, largest group first; problems without a kind form one "other" group. */
export function groupProblems(problems: readonly TableProblem[]): ProblemGroup[] {
  const byCode = new Map<ProblemCode | null, TableProblem[]>();
  for (const p of problems) {
    const code = p.code ?? null;
    if (!byCode.has(code)) byCode.set(code, []);
    byCode.get(code)!.push(p);
  }
  return [...byCode]
    .map(([code, list]) => ({
      code,
      label: code === null ? (list.length === 1 ? 'other problem' : 'other problems') : LABELS[code][list.length === 1 ? 0 : 1],
      problems: list,
    }))
    .sort((a, b) => (a.code === null ? 1 : 0) - (b.code === null ? 1 : 0) || b.problems.length - a.problems.length);
}

/** "41 problems: 38 repeated model names (…), 3 cells that are not numbers (…)". */
export function summarizeProblems(problems: readonly TableProblem[]): string {
  const groups = groupProblems(problems);
  const head = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  if (groups.length === 0) return head;
  return `${head}: ${groups.map((g) => `${g.problems.length} ${g.label}`).join(', ')}`;
}
