/**
 * One merge as the studio runs it, inside the merge worker: the engine's runRecipe with the studio's
 * platform parts — recipe model paths name the ingredients the page sent (modelPaths.ts), opened from
 * their files or handles. Free of worker plumbing so that it is tested in Node.
 */
import { InputError } from '../../errors';
import type { ByteSource } from '../../formats/types';
import type { OutputTarget } from '../../formats/writer';
import type { SoupBackend } from '../../merge/kernel';
import { recipeWhere } from '../../merge/recipe';
import { runRecipe, type RunRecipeOptions } from '../../merge/runRecipe';
import { memoryScratch, runRecipeAsLora } from '../../merge/soupLora';
import type { MergeProgress } from '../../merge/runMerge';
import { ingredientOfPath } from '../ingredients/modelPaths';
import { openInput } from '../ingredients/openIngredient';
import type { MergeJobResult, StartRequest } from './protocol';

export interface MergeJobDeps {
  /** Made once the recipe is planned; runRecipe disposes it. */
  backend: () => Promise<SoupBackend>;
  target: OutputTarget;
  /** A folder output gets recipe.yaml and the base model's config and tokenizer files. */
  folder: boolean;
  readBack: (fileName: string) => Promise<ByteSource>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
}

export async function runMergeJob(req: Pick<StartRequest, 'ingredients' | 'recipeYaml' | 'maxShardBytes' | 'gguf' | 'metadata' | 'lora'>, deps: MergeJobDeps): Promise<MergeJobResult> {
  const openModel: RunRecipeOptions['openModel'] = async (ref, recipe) => {
    const input = ingredientOfPath(ref.path, req.ingredients);
    if (!input) throw new InputError(`${recipeWhere(recipe, ref.line)}model ${ref.path} is not among the ingredients (${req.ingredients.map((i) => i.name).join(', ')})`);
    return openInput(input);
  };
  if (req.lora) return runLoraJob(req, req.lora.rank, openModel, deps);
  const run = await runRecipe({
    text: req.recipeYaml,
    fileName: 'recipe.yaml',
    openModel,
    backend: deps.backend,
    target: deps.target,
    folder: deps.folder && !req.gguf,
    gguf: req.gguf,
    maxShardBytes: req.maxShardBytes,
    recipeComment: 'SoupLab soup (mergekit recipe); model paths are relative to the folder that holds the checkpoints',
    metadata: req.metadata,
    readBack: deps.readBack,
    signal: deps.signal,
    onProgress: deps.onProgress,
  });
  return {
    modelFiles: run.result.files,
    otherFiles: run.extraFiles,
    tensors: run.result.tensors,
    tensorsMerged: run.plan.steps.filter((s) => s.kind !== 'copy').length,
    bytesWritten: run.result.bytesWritten,
    seconds: run.result.seconds,
    verified: run.result.verified,
    randomSeed: run.randomSeed,
    gguf: run.gguf,
  };
}

/**
 * The soup as a LoRA adapter against the recipe's base (the soup held in memory while the adapter is
 * extracted from it). The extraction's progress continues the merge's: its tensors, the merge's bytes.
 */
async function runLoraJob(req: Pick<StartRequest, 'recipeYaml' | 'metadata'>, rank: number, openModel: RunRecipeOptions['openModel'], deps: MergeJobDeps): Promise<MergeJobResult> {
  let last: MergeProgress | undefined;
  const started = performance.now();
  const r = await runRecipeAsLora({
    text: req.recipeYaml,
    fileName: 'recipe.yaml',
    openModel,
    backend: deps.backend,
    rank,
    target: deps.target,
    scratch: memoryScratch(),
    metadata: req.metadata,
    readBack: deps.readBack,
    signal: deps.signal,
    onProgress: (p) => {
      last = p;
      deps.onProgress?.(p);
    },
    onExtractProgress: (done, total, tensor) => {
      if (last) deps.onProgress?.({ ...last, tensorsDone: done, tensorsTotal: total, tensor: tensor ? `LoRA factors of ${tensor}` : '', etaSeconds: undefined });
    },
  });
  return {
    modelFiles: r.files,
    otherFiles: [],
    tensors: r.tensors.length,
    tensorsMerged: r.run.plan.steps.filter((s) => s.kind !== 'copy').length,
    bytesWritten: r.run.result.bytesWritten,
    seconds: (performance.now() - started) / 1000,
    verified: r.verified,
    randomSeed: r.run.randomSeed,
    lora: { rank: r.rank, base: r.base, tensors: r.tensors },
  };
}
