import type { AnalysisResult } from './analyze';
import { ruleFormula } from './experts';
import { groupProblems, summarizeProblems } from './problems';
import type { TableProblem } from './rawTable';
import { SET_ASIDE_KINDS, type ScoreTable } from './scoreTable';

/**
 * The `souplab analyze --json` object. The first keys are the documented contract (categories,
 * pearson, n, lowCorrelation, clusters, experts, expertSet, grid); the rest add detail.
 */
export function analysisJson(result: AnalysisResult, table: ScoreTable): Record<string, unknown> {
  const expertsByKey: Record<string, string | null> = {};
  for (const p of result.experts) expertsByKey[p.key] = p.model;
  return {
    categories: result.categories,
    pearson: result.pearson.r,
    n: result.pearson.n,
    lowCorrelation: result.lowCorrelation,
    clusters: result.clusters.map((c) => c.categories),
    experts: expertsByKey,
    expertSet: result.expertSet,
    grid: result.grid.points.map((p) => p.weights),
    mode: result.mode,
    compatibility: result.compatibility,
    tau: result.tau,
    rule: result.rule,
    method: result.method,
    ...(result.method !== 'pearson' ? { [result.method]: result.correlation.r } : {}),
    heatmapOrder: result.heatmapOrder,
    clusterDetails: result.clusters,
    expertDetails: result.experts,
    paper: { experts: Object.fromEntries(result.paper.picks.map((p) => [p.key, p.model])), expertSet: result.paper.expertSet },
    clustersMode: { experts: Object.fromEntries(result.clustered.picks.map((p) => [p.key, p.model])), expertSet: result.clustered.expertSet },
    candidates: result.candidates,
    rows: result.rows.length,
    gridStep: result.grid.step,
    table: {
      source: table.source,
      modelColumn: table.modelColumn,
      models: table.models.length,
      aggregates: table.aggregates,
      columns: table.columns.map((c) => ({ name: c.name, kind: c.kind, reason: c.reason })),
    },
    problems: table.problems,
    warnings: result.warnings,
  };
}

/** Past this many, table problems are summarised by kind with a few examples each; --json has them all. */
const MAX_PROBLEM_LINES = 8;
const EXAMPLES_PER_KIND = 3;

function problemLines(problems: TableProblem[]): string[] {
  if (problems.length <= MAX_PROBLEM_LINES) return problems.map((p) => `  ! ${p.message}`);
  const out = [`  ! ${summarizeProblems(problems)}; for example:`];
  for (const g of groupProblems(problems)) {
    for (const p of g.problems.slice(0, EXAMPLES_PER_KIND)) out.push(`    ${p.message}`);
    if (g.problems.length > EXAMPLES_PER_KIND) out.push(`    … ${g.problems.length - EXAMPLES_PER_KIND} more like these (see --json)`);
  }
  return out;
}

/** How the experts were chosen, in a few words: "paper mode, τ = 0.2, L: ρ < τ" (the rule matters only in paper mode). */
export function selectionNote(result: AnalysisResult): string {
  return `${result.mode} mode, τ = ${result.tau}${result.mode === 'paper' ? `, L: ${ruleFormula(result.rule)}` : ''}`;
}

/** Wider matrices do not fit a terminal; --json has them. */
const MAX_MATRIX = 24;

const fmt = (v: number | null, digits = 2): string => (v === null ? '—' : v.toFixed(digits));

/** The human-readable report of `souplab analyze`. */
export function formatAnalysis(result: AnalysisResult, table: ScoreTable): string {
  const out: string[] = [];
  const warnings = table.problems.filter((p) => p.severity === 'warning');
  out.push(
    `${table.source}: ${table.models.length} models, ${result.categories.length} categories` +
      (table.aggregates.length > 0 ? `; aggregates left out: ${table.aggregates.join(', ')}` : ''),
  );
  out.push(...problemLines(warnings));
  const setAside = table.columns.filter((c) => SET_ASIDE_KINDS.includes(c.kind) && !result.categories.includes(c.name));
  if (setAside.length > 0) {
    out.push('', 'Left out of the categories (name them in --categories to use them):');
    for (const c of setAside) out.push(`  - ${c.name}: ${c.reason}`);
  }
  for (const p of table.problems) if (p.code === 'direction' && result.categories.includes(p.column ?? '')) out.push(`  ? ${p.message}`);
  out.push(
    '',
    `${result.method === 'pearson' ? 'Pearson' : 'Spearman'} correlation over ${result.rows.length} models, τ = ${result.tau}; L's rule: ${ruleFormula(result.rule)}${result.rule === 'signed' ? ' (a weakly or negatively correlated partner; --rule absolute for |ρ| < τ)' : ' (--rule signed, the default, also counts anti-correlated partners)'}.`,
  );

  const order = result.heatmapOrder;
  const idx = order.map((c) => result.categories.indexOf(c));
  const width = Math.min(32, Math.max(...order.map((c) => c.length)));
  const clip = (s: string): string => (s.length > width ? s.slice(0, width - 1) + '…' : s.padEnd(width));
  if (order.length <= MAX_MATRIX) {
    out.push('', 'Correlation matrix (clustered order; columns numbered like the rows):');
    out.push(`${''.padEnd(width + 4)}${idx.map((_, j) => String(j + 1).padStart(6)).join('')}`);
    idx.forEach((i, a) => {
      const cells = idx.map((j) => {
        const v = result.correlation.r[i][j];
        return (v === null ? '—' : v.toFixed(2)).padStart(6);
      });
      out.push(`${String(a + 1).padStart(2)}. ${clip(order[a])}${cells.join('')}`);
    });
  } else out.push('', `(${order.length} categories: the correlation matrix is in --json)`);

  out.push('', `Clusters (mean ρ ≥ ${result.tau} inside):`);
  for (const c of result.clusters)
    out.push(`  [${c.categories.join(', ')}]${c.meanCorrelation === null ? '' : `  mean ρ ${fmt(c.meanCorrelation)}`}`);

  const formula = ruleFormula(result.rule).replace('τ', String(result.tau));
  out.push('', `Set L (${formula} with some category): ${result.lowCorrelation.length} of ${result.categories.length}`);
  // Why each category is in L: its partner lowest under the rule (smallest ρ, or smallest |ρ|).
  const key = result.rule === 'signed' ? (v: number) => v : Math.abs;
  for (const c of result.lowCorrelation.slice(0, MAX_MATRIX)) {
    const i = result.categories.indexOf(c);
    let partner = -1;
    result.correlation.r[i].forEach((v, j) => {
      const best = partner < 0 ? null : result.correlation.r[i][partner];
      if (j !== i && v !== null && (best === null || key(v) < key(best))) partner = j;
    });
    out.push(`  ${c}: ρ ${fmt(result.correlation.r[i][partner])} with ${result.categories[partner]}`);
  }
  if (result.lowCorrelation.length > MAX_MATRIX) out.push(`  … and ${result.lowCorrelation.length - MAX_MATRIX} more`);
  const modeName = result.mode === 'paper' ? 'per category of L (paper mode)' : 'per cluster, on its mean score (clusters mode)';
  out.push('', `Experts ${modeName}, among ${result.candidates.length} candidates:`);
  for (const p of result.experts) {
    const runner = p.runnerUp ? `  (next: ${p.runnerUp.model} ${fmt(p.runnerUp.score)})` : '';
    const tie = p.tiedWith.length > 0 ? `  tie with ${p.tiedWith.join(', ')}` : '';
    out.push(`  ${p.key}: ${p.model ?? 'none'} ${fmt(p.score)}${runner}${tie}`);
  }
  out.push('', `Expert set (${result.expertSet.length}): ${result.expertSet.join('; ') || 'none'}`);
  const verdict = result.compatibility.verdict;
  for (const m of result.compatibility.messages) out.push(`  ! ${verdict === 'refuse' ? 'cannot be souped' : 'warning'}: ${m}`);
  const other = result.mode === 'paper' ? result.clustered : result.paper;
  out.push(`(${other.mode} mode would give: ${other.expertSet.join('; ') || 'none'})`);
  const g = result.grid;
  out.push('', `Weight grid: ${g.points.length} soups (step ${g.step}, uniform last).`);
  const shown = g.points.slice(0, 5).map((p) => p.weights.map((w) => fmt(w)).join('/'));
  if (g.points.length > 0) out.push(`  ${shown.join(', ')}${g.points.length > 5 ? ', …' : ''}`);
  if (result.warnings.length > 0) {
    out.push('', 'Notes:');
    for (const w of result.warnings) out.push(`  - ${w}`);
  }
  return out.join('\n') + '\n';
}
