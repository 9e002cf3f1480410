import { analyze, parseScoreTable } from '../src/analysis';
import { MAX_CATEGORIES } from '../src/analysis/analyze';
import type { Benchmark } from './registry';
import { seededUniform as rng } from '../src/util/random';

const MODELS = 4000;
const CATEGORIES = 40;
const TARGET_MS = 1000;
/** The widest table `analyze` takes (30 models × MAX_CATEGORIES): O(k²) correlations and clustering. */
const WIDE_MODELS = 30;
const WIDE_TARGET_MS = 5000;


/**
 * A leaderboard-like CSV: categories driven by 6 latent skills (so there is cluster structure),
 * percent strings, ~2% N/A cells, an "Overall Acc" aggregate, rank and link columns.
 */
export function generateTable(models = MODELS, categories = CATEGORIES, seed = 1): string {
  const rand = rng(seed);
  const skills = 6;
  const loading = Array.from({ length: categories }, (_, c) => c % skills);
  const header = ['Rank', 'Model', 'Model Link', 'Overall Acc', ...Array.from({ length: categories }, (_, c) => `Category ${c + 1}`)];
  const lines = [header.join(',')];
  for (let m = 0; m < models; m++) {
    const skill = Array.from({ length: skills }, () => rand());
    const scores = loading.map((s) => Math.min(100, Math.max(0, 100 * (0.7 * skill[s] + 0.3 * rand()))));
    const overall = scores.reduce((a, b) => a + b, 0) / categories;
    const cells = scores.map((s) => (rand() < 0.02 ? 'N/A' : `${s.toFixed(2)}%`));
    lines.push([String(m + 1), `model-${m}`, `https://example.org/model-${m}`, `${overall.toFixed(2)}%`, ...cells].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Wall time, and the process's CPU time, which a machine shared with other work inflates less. */
function time<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, value };
}

export const analysisBenchmark: Benchmark = {
  name: 'analysis',
  description: `whole SoCE analysis (parse CSV, detect columns, correlations, L, clusters, experts, grid) of a ${MODELS} × ${CATEGORIES} table, target < ${TARGET_MS} ms; and of a ${WIDE_MODELS} × ${MAX_CATEGORIES} one, target < ${WIDE_TARGET_MS} ms`,
  async run() {
    const text = generateTable();
    const file = { name: 'generated.csv', text };
    // Warm-up runs so the JIT is not what gets measured.
    for (let i = 0; i < 3; i++) analyze(parseScoreTable(file), { method: i === 2 ? 'spearman' : 'pearson' });
    let ok = true;
    for (const [label, opts] of [
      ['paper, Pearson', { mode: 'paper' as const }],
      ['clusters, Pearson', { mode: 'clusters' as const }],
      ['paper, Spearman', { mode: 'paper' as const, method: 'spearman' as const }],
    ] as const) {
      const runs = [1, 2, 3, 4, 5].map(() => {
        const parse = time(() => parseScoreTable(file));
        const result = time(() => analyze(parse.value, opts));
        return { parse: parse.ms, analyze: result.ms, total: parse.ms + result.ms, cpu: parse.cpuMs + result.cpuMs, result: result.value, table: parse.value };
      });
      const best = runs.reduce((a, b) => (b.total < a.total ? b : a));
      const median = [...runs].sort((a, b) => a.total - b.total)[2].total;
      const r = best.result;
      const pass = best.total < TARGET_MS;
      if (!pass) ok = false;
      console.log(
        `${label.padEnd(18)} ${best.total.toFixed(0).padStart(5)} ms (parse ${best.parse.toFixed(0)} ms, analyze ${best.analyze.toFixed(0)} ms, CPU ${best.cpu.toFixed(0)} ms; best of 5, median ${median.toFixed(0)} ms) ` +
          `${best.table.models.length} models × ${r.categories.length} categories, |L| = ${r.lowCorrelation.length}, ${r.clusters.length} clusters, ` +
          `${r.expertSet.length} experts, ${r.grid.points.length} grid point${r.grid.points.length === 1 ? '' : 's'}  ${pass ? 'OK' : `MISSED (target ${TARGET_MS} ms)`}`,
      );
    }
    // The widest table accepted: the O(k²) clustering keeps it to seconds (O(k³) took 116 s at 1,000).
    const wide = { name: 'wide.csv', text: generateTable(WIDE_MODELS, MAX_CATEGORIES, 2) };
    const w = time(() => analyze(parseScoreTable(wide), { mode: 'clusters' }));
    const wPass = w.ms < WIDE_TARGET_MS;
    if (!wPass) ok = false;
    console.log(
      `${'wide, clusters'.padEnd(18)} ${w.ms.toFixed(0).padStart(5)} ms (CPU ${w.cpuMs.toFixed(0)} ms) ${WIDE_MODELS} models × ${w.value.categories.length} categories, ` +
        `${w.value.clusters.length} clusters  ${wPass ? 'OK' : `MISSED (target ${WIDE_TARGET_MS} ms)`}`,
    );
    return ok;
  },
};
