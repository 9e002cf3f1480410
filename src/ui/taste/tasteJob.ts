/**
 * One Taste run, as the Taste worker does it: the soup (the Ingredients view's recipe, souped in memory
 * through the merge engine, nothing written) and each of its ingredients as they are, scored on the task
 * files with the model runtime (the engine's evaluateModels: one model loaded, each next one reloaded
 * into it). Free of worker plumbing so that Node tests run it.
 */
import { throwIfAborted } from '../../errors';
import { forecastPlan, type PlanForecast } from '../../eval/estimate';
import { evaluateModels, type ModelEvaluation } from '../../eval/evaluateModels';
import type { Checkpoint } from '../../formats/checkpoint';
import type { SoupBackend } from '../../merge/kernel';
import { modelRefsOf } from '../../merge/plan';
import { parseRecipe } from '../../merge/recipe';
import { soupInMemory } from '../../merge/soupInMemory';
import type { CausalLM, ModelConfig, WeightSource } from '../../model/types';
import { checkpointWeightSource, checkWeights } from '../../model/weights';
import { prepareEvaluation } from '../evalWorker/prepare';
import { ingredientOfPath } from '../ingredients/modelPaths';
import { openInput } from '../ingredients/openIngredient';
import type { ModelResult, TasteProgress, TasteRequest } from './protocol';

export interface TasteJobDeps {
  /** Soups the recipe (the merge engine's backend; the CPU one in the studio). */
  soupBackend: SoupBackend;
  /** Loads the first model (on the chosen backend); the others are reloaded into it. */
  createModel(config: ModelConfig, weights: WeightSource, signal: AbortSignal | undefined): Promise<{ model: CausalLM; description: string }>;
  signal?: AbortSignal;
  onStart?(info: { backend: string; models: string[]; problems: string[] }): void;
  /** Given: the run's time is measured (a short warm-up) and told before the first model is scored. */
  onForecast?(f: PlanForecast): void;
  onProgress?(p: TasteProgress): void;
  onModel?(r: ModelResult): void;
}

/** What a Taste scores: the soup (souped in memory, lazily) and each ingredient, with the tasks encoded by the soup's tokenizer. */
async function prepareTaste(req: Omit<TasteRequest, 'type' | 'backend'>, deps: Pick<TasteJobDeps, 'soupBackend' | 'signal'>) {
  const { signal } = deps;
  const opened = new Map<string, Checkpoint>();
  for (const input of req.ingredients) {
    throwIfAborted(signal);
    opened.set(input.name, await openInput(input));
  }
  const { recipe } = parseRecipe(req.recipeYaml, 'recipe.yaml');
  // The recipe's model paths name the ingredients (modelPaths.ts).
  const checkpoints = new Map<string, Checkpoint>();
  const pathOf = new Map<string, string>();
  for (const ref of modelRefsOf(recipe)) {
    const input = ingredientOfPath(ref.path, req.ingredients);
    if (input) {
      checkpoints.set(ref.path, opened.get(input.name)!);
      pathOf.set(input.name, ref.path);
    }
  }
  const { plan, vocabulary, weights: soupWeights } = await soupInMemory(recipe, checkpoints, deps.soupBackend);
  // With a tokenizer source each ingredient is tasted with its rows aligned to the soup's vocabulary, which the tasks are encoded in.
  const ingredientCheckpoint = (name: string): Checkpoint => vocabulary?.checkpoints.get(pathOf.get(name) ?? '') ?? opened.get(name)!;
  // The soup's config and tokenizer are its reference model's, as a merge carries them.
  const { config, tasks, problems } = await prepareEvaluation(plan.reference, req.tasks, 'Add task files to taste the soup on.');

  checkWeights(config, soupWeights, req.soupName);
  const models: { name: string; role: ModelResult['role']; weights: WeightSource }[] = [{ name: req.soupName, role: 'soup', weights: soupWeights }];
  for (const input of req.ingredients) {
    const weights = checkpointWeightSource(ingredientCheckpoint(input.name));
    checkWeights(config, weights, input.name);
    models.push({ name: input.name, role: 'ingredient', weights });
  }
  return { config, tasks, problems, models };
}

export async function runTasteJob(req: Omit<TasteRequest, 'type' | 'backend'>, deps: TasteJobDeps): Promise<ModelResult[]> {
  const { signal } = deps;
  const { config, tasks, problems, models } = await prepareTaste(req, deps);
  const resultOf = (r: ModelEvaluation, i: number): ModelResult => ({ model: r.name, role: models[i].role, results: r.results, seconds: r.seconds });
  const results = await evaluateModels({
    config,
    tasks,
    models,
    createModel: async (c, weights, sig) => {
      const { model, description } = await deps.createModel(c, weights, sig);
      return { model, description, dispose: () => model.dispose() };
    },
    onLoaded: async (lm) => {
      deps.onStart?.({ backend: lm.description, models: models.map((x) => x.name), problems });
      if (deps.onForecast) deps.onForecast(await forecastPlan(lm.model, lm.description, tasks, models.length, { unit: 'models', surface: 'studio-taste', signal }));
    },
    onProgress: (p) => deps.onProgress?.({ modelIndex: p.index, models: models.length, model: p.model, phase: p.phase, task: p.task, tokensDone: p.tokensDone, tokensTotal: p.tokensTotal }),
    onModel: (r, i) => deps.onModel?.(resultOf(r, i)),
    signal,
  });
  return results.map(resultOf);
}

/**
 * The Taste's time as runTasteJob tells it before its first model, from a warm-up: the evaluator loaded
 * with the first ingredient's weights (as fast as the soup's, without souping it); nothing is scored.
 */
export async function estimateTasteJob(req: Omit<TasteRequest, 'type' | 'backend'>, deps: Pick<TasteJobDeps, 'soupBackend' | 'createModel' | 'signal'>): Promise<PlanForecast> {
  const { config, tasks, models } = await prepareTaste(req, deps);
  const first = models.find((m) => m.role === 'ingredient') ?? models[0];
  const { model, description } = await deps.createModel(config, first.weights, deps.signal);
  try {
    return await forecastPlan(model, description, tasks, models.length, { unit: 'models', surface: 'studio-taste', signal: deps.signal });
  } finally {
    model.dispose();
  }
}
