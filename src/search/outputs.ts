/**
 * What a search hands over, as text: trials.csv (a trials table `souplab analyze --trials` and the
 * Trials view read: a "weight: <model>" column per model, one column per category with the tune-split
 * score; "overall" and "held-out overall" are aggregates and "time (s)" metadata, so the analysis ranks by
 * the categories as the search did), held-out.csv (the held-out scores per category), best.yaml (the best
 * soup's mergekit recipe) and report.md.
 */
import { csvField, linearRecipeYaml, type Ingredient } from '../analysis/recipes';
import { formatScore } from '../eval/scores';
import type { SearchEvidence, ScoredPoint } from './evidence';
import type { TrialRecord } from './runSearch';
import type { RecipeVocabulary } from './searchVocabulary';

/** Stable ids in evaluation order: trial-001, trial-002… (a list plan's recipe names when it gave them). */
export function trialIds(trials: TrialRecord[]): string[] {
  const width = Math.max(3, String(trials.length).length);
  const used = new Set<string>();
  return trials.map((t, i) => {
    let id = t.label && !used.has(t.label) ? t.label : `trial-${String(i + 1).padStart(width, '0')}`;
    while (used.has(id)) id += "'";
    used.add(id);
    return id;
  });
}

export function trialsCsv(trials: TrialRecord[], models: string[], categories: string[]): string {
  const ids = trialIds(trials);
  const header = ['recipe', 'kind', ...models.map((m) => `weight: ${m}`), ...categories, 'overall', 'held-out overall', 'time (s)'];
  const lines = [header.map(csvField).join(',')];
  trials.forEach((t, i) => {
    lines.push(
      [
        ids[i],
        t.kinds.join('+'),
        ...t.weights.map((w) => String(Math.round(w * 1e9) / 1e9)),
        ...categories.map((c) => (t.tune[c] === undefined ? 'N/A' : formatScore(t.tune[c]))),
        formatScore(t.objective),
        formatScore(t.heldOutObjective),
        (t.soupSeconds + t.evalSeconds).toFixed(3),
      ]
        .map(csvField)
        .join(','),
    );
  });
  return lines.join('\n') + '\n';
}

export function heldOutCsv(trials: TrialRecord[], models: string[], categories: string[]): string {
  const ids = trialIds(trials);
  const header = ['recipe', ...models.map((m) => `weight: ${m}`), ...categories.map((c) => `held-out ${c}`), 'held-out overall'];
  const lines = [header.map(csvField).join(',')];
  trials.forEach((t, i) =>
    lines.push([ids[i], ...t.weights.map((w) => String(Math.round(w * 1e9) / 1e9)), ...categories.map((c) => formatScore(t.heldOut[c] ?? NaN)), formatScore(t.heldOutObjective)].map(csvField).join(',')),
  );
  return lines.join('\n') + '\n';
}

/** The mergekit recipe of a point: the models with a positive weight (all of them with a tokenizer setting), paths as given. */
export function pointRecipeYaml(point: ScoredPoint, models: string[], paths: string[], comment: string, vocabulary?: RecipeVocabulary): string {
  const ingredients: Ingredient[] = [];
  const weights: number[] = [];
  point.weights.forEach((w, i) => {
    // With a tokenizer setting every model stays (weight 0 included): the output vocabulary is the search's, aligned over all of them.
    if (w > 0 || vocabulary !== undefined) {
      ingredients.push({ name: models[i], checkpoint: paths[i] });
      weights.push(Math.round(w * 1e9) / 1e9);
    }
  });
  return linearRecipeYaml(ingredients, weights, { comment, ...vocabulary });
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : formatScore(Math.round(v * 1e4) / 1e4));

export function weightsText(weights: number[], models: string[]): string {
  return weights.flatMap((w, i) => (w > 0 ? [`${models[i]} ${Math.round(w * 1e4) / 1e4}`] : [])).join(', ');
}

/** The evidence as Markdown. */
/** `objective`: how the categories were summed, in words (objectiveRule for SoupLab's own evaluator). */
export function reportMarkdown(e: SearchEvidence, info: { plan: string; objective: string; splitSeed: number; tuneShare: number; loader: string; evaluated: number; trials: number; planPoints: number; seconds: number; cancelled: boolean }): string {
  const out: string[] = ['# SoupLab search report', ''];
  out.push(`- models: ${e.models.join(', ')}; experts (the plan's ingredients): ${e.experts.join(', ')}`);
  out.push(`- categories (one per task file): ${e.categories.join(', ')}`);
  out.push(`- objective: ${info.objective}; items: ${splitText(info.tuneShare, info.splitSeed)}`);
  out.push(`- plan: ${info.plan} (${info.planPoints} points); ${info.trials} soups in the results, ${info.evaluated} evaluated in this run, ${info.seconds.toFixed(1)} s`);
  out.push(`- souping: ${info.loader}`);
  if (info.cancelled) out.push('- **cancelled**: the results hold the points finished so far; run again with --resume to continue');
  out.push('', '## Best soup and baselines', '', '| soup | weights | objective (tune) | held-out |', '| --- | --- | --- | --- |');
  const row = (name: string, p: ScoredPoint | null) => out.push(`| ${name} | ${p ? weightsText(p.weights, e.models) : 'not evaluated'} | ${pct(p?.objective)} | ${pct(p?.heldOutObjective)} |`);
  row('**best soup**', e.best);
  row(`best single (${e.baselines.bestSingle?.model ?? '—'})`, e.baselines.bestSingle);
  row('uniform, all models', e.baselines.uniformAll);
  row('uniform, experts', e.baselines.uniformExperts);
  for (const s of e.baselines.singles) row(s.model, s);
  if (e.gain) out.push('', `Gain of the best soup over the best single model: ${pct(e.gain.tune)} (tune), ${pct(e.gain.heldOut)} (held-out).`);
  out.push('', '## Shapley values', '');
  if (e.shapley.values) {
    out.push('A coalition is worth the objective of the uniform soup of its members; the empty soup is worth 0.', '');
    e.shapley.players.forEach((p, i) => out.push(`- ${p}: ${pct(e.shapley.values![i])}`));
  } else if (e.shapley.players.length < 2) out.push('Not computed (fewer than two players).');
  else out.push(`Not exact yet: ${e.shapley.missing.length} coalitions are not evaluated (${e.shapley.missing.slice(0, 5).map((m) => `{${m.join(', ')}}`).join(' ')}${e.shapley.missing.length > 5 ? ' …' : ''}).`);
  out.push('', '## Consistency: category correlations (Pearson)', '');
  out.push(`Mean correlation between categories across the single models: ${pct(e.consistency.meanIngredients)}; across the soups: ${pct(e.consistency.meanSoups)}.`, '');
  for (const [title, m] of [['single models', e.consistency.ingredients], ['soups', e.consistency.soups]] as const) {
    out.push(`### across the ${title}`, '', `| | ${m.categories.join(' | ')} |`, `| --- |${m.categories.map(() => ' --- |').join('')}`);
    m.categories.forEach((c, i) => out.push(`| ${c} | ${m.r[i].map((v) => (v === null ? '—' : v.toFixed(3))).join(' | ')} |`));
    out.push('');
  }
  out.push('## Items', '');
  const list = (title: string, notes: SearchEvidence['items']['solvedOnlyBySoup']) => {
    out.push(`### ${title} (${notes.length})`, '');
    for (const n of notes.slice(0, 50)) out.push(`- ${n.task} line ${n.line}: ${oneLine(n.query)} → **${oneLine(n.answer)}**`);
    if (notes.length > 50) out.push(`- … ${notes.length - 50} more`);
    out.push('');
  };
  list('Solved by the best soup, failed by every one of its ingredients', e.items.solvedOnlyBySoup);
  list('Failed by the best soup, solved by every one of its ingredients', e.items.lostBySoup);
  return out.join('\n');
}

/** How the items were split between tuning and the held-out report, as the report and the CLI say it. */
export function splitText(tuneShare: number, seed: number): string {
  if (tuneShare >= 1) return 'every item of each task file: no held-out split (tune share 1), so the held-out scores repeat the tune scores';
  const pct = (v: number) => Math.round(v * 1000) / 10;
  return `a seeded ${pct(tuneShare)}/${pct(1 - tuneShare)} split per task file, seed ${seed}; the held-out split is reported beside it`;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 160 ? `${t.slice(0, 157)}…` : t;
}

/**
 * What an exported soup stores about the search that chose it (safetensors __metadata__ "souplab.search",
 * as JSON): its weights, scores and objective, the baselines, the Shapley values and the categories.
 */
export const PROVENANCE_KEY = 'souplab.search';

export function searchProvenance(trial: TrialRecord, evidence: SearchEvidence): Record<string, string> {
  const provenance = {
    weights: Object.fromEntries(evidence.models.map((m, i) => [m, trial.weights[i]])),
    objective: trial.objective,
    heldOutObjective: trial.heldOutObjective,
    scores: trial.tune,
    heldOutScores: trial.heldOut,
    baselines: evidence.baselines,
    shapley: evidence.shapley,
    categories: evidence.categories,
  };
  return { [PROVENANCE_KEY]: JSON.stringify(provenance) };
}
