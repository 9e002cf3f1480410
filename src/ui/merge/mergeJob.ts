/**
 * One merge as the studio runs it, inside the merge worker: opens the ingredients (headers), plans the
 * recipe, and streams the soup into the output target through runMerge, which re-reads the written
 * headers. Free of worker plumbing so that it is tested in Node.
 */
import type { Checkpoint } from '../../formats/checkpoint';
import type { ByteSource } from '../../formats/types';
import type { OutputTarget } from '../../formats/writer';
import type { SoupBackend } from '../../merge/kernel';
import { planMerge } from '../../merge/plan';
import { parseRecipe } from '../../merge/recipe';
import { runMerge, type ExtraOutputFile, type MergeProgress } from '../../merge/runMerge';
import { openInput } from '../ingredients/openIngredient';
import { carriedFiles } from '../../merge/carriedFiles';
import type { StartRequest } from './protocol';

export interface MergeJobDeps {
  backend: SoupBackend;
  target: OutputTarget;
  /** A folder output gets recipe.yaml and the base model's config and tokenizer files. */
  folder: boolean;
  readBack: (fileName: string) => Promise<ByteSource>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
}

export interface MergeJobResult {
  modelFiles: string[];
  otherFiles: string[];
  tensors: number;
  tensorsMerged: number;
  bytesWritten: number;
  seconds: number;
  verified: boolean;
}

export async function runMergeJob(req: Pick<StartRequest, 'ingredients' | 'recipeYaml' | 'maxShardBytes'>, deps: MergeJobDeps): Promise<MergeJobResult> {
  const { recipe } = parseRecipe(req.recipeYaml, 'recipe.yaml');
  const checkpoints = new Map<string, Checkpoint>();
  for (const input of req.ingredients) checkpoints.set(input.name, await openInput(input));
  const plan = planMerge(recipe, checkpoints);
  const extraFiles: ExtraOutputFile[] = [];
  if (deps.folder) {
    extraFiles.push({ name: 'recipe.yaml', data: new TextEncoder().encode(req.recipeYaml) });
    extraFiles.push(...(await carriedFiles(plan)));
  }
  const result = await runMerge(plan, {
    backend: deps.backend,
    target: deps.target,
    recipeYaml: req.recipeYaml,
    maxShardBytes: deps.folder ? req.maxShardBytes : Infinity,
    extraFiles,
    readBack: deps.readBack,
    signal: deps.signal,
    onProgress: deps.onProgress,
  });
  return {
    modelFiles: result.files,
    otherFiles: extraFiles.map((f) => f.name),
    tensors: result.tensors,
    tensorsMerged: plan.steps.filter((s) => s.kind === 'soup').length,
    bytesWritten: result.bytesWritten,
    seconds: result.seconds,
    verified: result.verified,
  };
}
