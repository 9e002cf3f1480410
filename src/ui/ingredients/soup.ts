/** What the soup on screen amounts to: the recipe spec, the pre-flight report, and what blocks a merge. */
import type { Checkpoint } from '../../formats/checkpoint';
import { negativeWeightsWarning } from '../../merge/extrapolation';
import { planMerge, type MergePlan } from '../../merge/plan';
import { preflight, type PreflightReport } from '../../merge/preflight';
import { messageOf } from './openIngredient';
import { recipeOf, type SoupSpec } from './recipeIO';
import type { Ingredient } from './types';

export interface SoupInputs {
  ingredients: Ingredient[];
  weights: Record<string, number>;
  normalise: boolean;
  outDtype: 'auto' | 'BF16' | 'F16' | 'F32';
}

export const weightOf = (weights: Record<string, number>, name: string): number => weights[name] ?? 1;

/** The soup: ready ingredients with a weight other than 0, in card order. */
export function soupSpecOf(s: SoupInputs): SoupSpec {
  return {
    models: s.ingredients.filter((g) => g.status === 'ready' && weightOf(s.weights, g.name) !== 0).map((g) => ({ name: g.name, weight: weightOf(s.weights, g.name) })),
    normalise: s.normalise,
    outDtype: s.outDtype === 'auto' ? undefined : s.outDtype,
  };
}

/** The pre-flight check across every readable ingredient (the first is the reference). */
export function soupPreflight(ingredients: Ingredient[]): PreflightReport | null {
  const ready = ingredients.flatMap((g) => (g.status === 'ready' ? [{ label: g.name, checkpoint: g.checkpoint }] : []));
  if (ready.length === 0) return null;
  return preflight(ready);
}

export interface SoupStatus {
  spec: SoupSpec;
  report: PreflightReport | null;
  /** Why Merge is disabled, in words; empty when it may start. */
  blockers: string[];
  /** The plan (for sizes and tensor counts) when nothing blocks. */
  plan: MergePlan | null;
  /** Negative weights make an extrapolation: said here, and the person confirms before merging. */
  extrapolation: string | undefined;
}

export function soupStatus(s: SoupInputs): SoupStatus {
  const spec = soupSpecOf(s);
  const report = soupPreflight(s.ingredients);
  const blockers: string[] = [];
  const reading = s.ingredients.filter((g) => g.status === 'reading');
  const broken = s.ingredients.filter((g) => g.status === 'error');
  if (s.ingredients.length === 0) blockers.push('Add checkpoints to merge.');
  if (reading.length > 0) blockers.push(`Reading ${reading.length} checkpoint header${reading.length > 1 ? 's' : ''}…`);
  for (const g of broken) blockers.push(`${g.name} cannot be read; remove it to merge.`);
  if (report && report.errors.length > 0) {
    blockers.push(`The pre-flight check found ${report.errors.length} problem${report.errors.length > 1 ? 's' : ''} (see Ingredients).`);
  }
  if (s.ingredients.length > 0 && reading.length === 0 && spec.models.length === 0) blockers.push('Every weight is 0: give at least one ingredient a weight.');
  if (spec.normalise && spec.models.length > 0 && spec.models.reduce((a, m) => a + m.weight, 0) === 0) {
    blockers.push('The weights add up to 0, so they cannot be normalised.');
  }
  let plan: MergePlan | null = null;
  if (blockers.length === 0) {
    try {
      const checkpoints = new Map<string, Checkpoint>();
      for (const g of s.ingredients) if (g.status === 'ready') checkpoints.set(g.name, g.checkpoint);
      plan = planMerge(recipeOf(spec), checkpoints);
    } catch (e) {
      blockers.push(messageOf(e));
    }
  }
  return { spec, report, blockers, plan, extrapolation: negativeWeightsWarning(spec.models, spec.normalise) };
}
