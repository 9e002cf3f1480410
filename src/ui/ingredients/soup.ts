/** What the soup on screen amounts to: the recipe spec, the pre-flight report, and what blocks a merge. */
import type { Checkpoint } from '../../formats/checkpoint';
import { isFloatDtype, type FloatDtype } from '../../formats/dtype';
import { negativeWeightsWarning } from '../../merge/extrapolation';
import type { MergePlan } from '../../merge/plan';
import { planAlignedSoup } from '../../merge/soupInMemory';
import { preflight, type PreflightReport } from '../../merge/preflight';
import { parseRecipe, recipeToYaml } from '../../merge/recipe';
import { DEFAULT_SETUP, methodOf, setupProblems, takesBase, type MethodSetup } from '../merge/method/methodSetup';
import { modelPathOf } from './modelPaths';
import { messageOf } from './openIngredient';
import { recipeOf, type SoupSpec } from './recipeIO';
import type { Ingredient } from './types';
import type { StudioVocabulary } from './types';

export interface SoupInputs {
  ingredients: Ingredient[];
  weights: Record<string, number>;
  normalise: boolean;
  outDtype: 'auto' | 'BF16' | 'F16' | 'F32';
  /** The merge method and its parameters; absent: linear. */
  method?: MethodSetup;
  /** The output vocabulary when tokenizers differ (tokenizer_source); absent or 'rows': none. */
  vocabulary?: 'rows' | 'base' | 'union';
  /** The vocabularies as studioVocabulary found them: undefined while it reads them, null when there is nothing to compare. */
  vocabularies?: StudioVocabulary | null;
}

export const weightOf = (weights: Record<string, number>, name: string): number => weights[name] ?? 1;

/** The dtype of every float tensor of these checkpoints, when they share one. */
function sharedFloatDtype(checkpoints: Checkpoint[]): FloatDtype | undefined {
  const dtypes = new Set<string>();
  for (const c of checkpoints) for (const t of c.tensors.values()) if (isFloatDtype(t.info.dtype)) dtypes.add(t.info.dtype);
  return dtypes.size === 1 ? ([...dtypes][0] as FloatDtype) : undefined;
}

/** The soup: ready ingredients with a weight other than 0, in card order, besides the method's base model. */
export function soupSpecOf(s: SoupInputs): SoupSpec {
  const setup = s.method ?? DEFAULT_SETUP;
  const method = methodOf(setup);
  const readyOnes = s.ingredients.filter((g): g is Extract<Ingredient, { status: 'ready' }> => g.status === 'ready');
  const baseName = takesBase(method) ? setup.base : null;
  const base = readyOnes.find((g) => g.name === baseName);
  // A slices recipe reads the models its slices name, whatever the cards' weights.
  const inSlices = setup.slices ? new Set(setup.slices.flatMap((sl) => sl.sources.map((src) => src.model.path))) : undefined;
  const rank = (name: string) => {
    const i = setup.order?.indexOf(name) ?? -1;
    return i < 0 ? Infinity : i;
  };
  const members = readyOnes
    .filter((g) => g.name !== baseName && (inSlices ? inSlices.has(g.name) : weightOf(s.weights, g.name) !== 0))
    .map((g, i) => ({ g, i }))
    .sort((a, b) => rank(a.g.name) - rank(b.g.name) || a.i - b.i)
    .map(({ g }) => g);
  return {
    models: members.map((g) => ({ name: g.name, weight: weightOf(s.weights, g.name), path: modelPathOf(g.input) })),
    ...(base ? { base: { name: base.name, path: modelPathOf(base.input) } } : {}),
    normalise: s.normalise,
    outDtype: s.outDtype === 'auto' ? undefined : s.outDtype,
    inputDtype: sharedFloatDtype([...members, ...(base ? [base] : [])].map((g) => g.checkpoint)),
    method: setup,
    ...(s.vocabulary === 'base' || s.vocabulary === 'union' ? { tokenizerSource: s.vocabulary } : {}),
  };
}

/** Every ingredient the merge reads: the models and the base. */
export function namesInMerge(spec: SoupSpec): string[] {
  return [...(spec.base ? [spec.base.name] : []), ...spec.models.map((m) => m.name)];
}

/**
 * The pre-flight check across every readable ingredient (the first is the reference); `aligned` (by
 * recipe path) replaces checkpoints whose embedding rows were aligned to the chosen vocabulary.
 */
export function soupPreflight(ingredients: Ingredient[], aligned?: Map<string, Checkpoint>): PreflightReport | null {
  const ready = ingredients.flatMap((g) => (g.status === 'ready' ? [{ label: g.name, checkpoint: aligned?.get(modelPathOf(g.input)) ?? g.checkpoint }] : []));
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
  const aligned = spec.tokenizerSource ? s.vocabularies?.aligned : undefined;
  const report = soupPreflight(s.ingredients, aligned);
  const blockers: string[] = [];
  if (spec.tokenizerSource && s.vocabularies === undefined) blockers.push('Reading the models’ tokenizers…');
  if (spec.tokenizerSource && s.vocabularies?.error) blockers.push(s.vocabularies.error);
  const reading = s.ingredients.filter((g) => g.status === 'reading');
  const broken = s.ingredients.filter((g) => g.status === 'error');
  if (s.ingredients.length === 0) blockers.push('Add checkpoints to merge.');
  if (reading.length > 0) blockers.push(`Reading ${reading.length} checkpoint header${reading.length > 1 ? 's' : ''}…`);
  for (const g of broken) blockers.push(`${g.name} cannot be read; remove it to merge.`);
  if (report && report.errors.length > 0) {
    blockers.push(`The pre-flight check found ${report.errors.length} problem${report.errors.length > 1 ? 's' : ''} (see Ingredients).`);
  }
  const setup = s.method ?? DEFAULT_SETUP;
  const linear = methodOf(setup).name === 'linear';
  if (linear && s.ingredients.length > 0 && reading.length === 0 && spec.models.length === 0) blockers.push('Every weight is 0: give at least one ingredient a weight.');
  if (linear && spec.normalise && spec.models.length > 0 && spec.models.reduce((a, m) => a + m.weight, 0) === 0) {
    blockers.push('The weights add up to 0, so they cannot be normalised.');
  }
  if (!linear && s.ingredients.length > 0 && reading.length === 0) {
    const ready = s.ingredients.filter((g) => g.status === 'ready').map((g) => g.name);
    blockers.push(...setupProblems(setup, spec.models.map((m) => m.name), ready));
  }
  let plan: MergePlan | null = null;
  if (blockers.length === 0) {
    try {
      const checkpoints = new Map<string, Checkpoint>();
      for (const g of s.ingredients) if (g.status === 'ready') checkpoints.set(modelPathOf(g.input), aligned?.get(modelPathOf(g.input)) ?? g.checkpoint);
      // Through the recipe's YAML, as the merge worker and `souplab merge` read it: the same checks, the same plan.
      const { recipe } = parseRecipe(recipeToYaml(recipeOf(spec)), 'recipe.yaml');
      plan = planAlignedSoup(recipe, checkpoints);
    } catch (e) {
      blockers.push(messageOf(e));
    }
  }
  return { spec, report, blockers, plan, extrapolation: linear ? negativeWeightsWarning(spec.models, spec.normalise) : undefined };
}
