/**
 * Opens what `souplab eval` and `souplab search` evaluate: a model folder, or a recipe souped in memory
 * (the merge plan computed tensor by tensor, nothing written), with its config and tokenizer (those of
 * the recipe's base model, or its first model, as `souplab merge` carries them).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import type { ByteSource } from '../formats/types';
import type { SoupBackend } from '../merge/kernel';
import { modelRefsOf, planMerge, type MergePlan } from '../merge/plan';
import { parseRecipe } from '../merge/recipe';
import { soupWeightSource } from '../merge/soupWeights';
import { parseModelConfig } from '../model/config';
import { loadTokenizer } from '../model/tokenizer';
import type { ModelConfig, TextTokenizer, WeightSource } from '../model/types';
import { checkpointWeightSource } from '../model/weights';
import { openCheckpointPath, type NodeCheckpoint } from './openCheckpointPath';
import { fsInputError } from './fsErrors';

export interface EvalModelFiles {
  /** As given on the command line. */
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  weights: WeightSource;
  /** For a recipe: the plan souped in memory. */
  plan?: MergePlan;
  checkpoints: NodeCheckpoint[];
  close(): Promise<void>;
}

/** A model folder (or .safetensors file beside its config) or a recipe.yaml. `backend` soups a recipe. */
export async function openEvalModel(path: string, backend: () => Promise<SoupBackend>): Promise<EvalModelFiles> {
  const isRecipe = /\.ya?ml$/i.test(path);
  if (!isRecipe) {
    const checkpoint = await openCheckpointPath(path);
    try {
      const { config, tokenizer } = await modelFilesOf(checkpoint, path);
      return { name: path, config, tokenizer, weights: checkpointWeightSource(checkpoint), checkpoints: [checkpoint], close: () => checkpoint.close() };
    } catch (e) {
      await checkpoint.close();
      throw e;
    }
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw fsInputError(path, e, 'cannot read');
  }
  const { recipe } = parseRecipe(text, path);
  const opened: NodeCheckpoint[] = [];
  const close = async () => void (await Promise.all(opened.map((c) => c.close().catch(() => undefined))));
  try {
    const byPath = new Map<string, Checkpoint>();
    for (const ref of modelRefsOf(recipe)) {
      const full = isAbsolute(ref.path) ? ref.path : resolve(dirname(resolve(path)), ref.path);
      if (!(await stat(full).catch(() => undefined))) throw new InputError(`${path} line ${ref.line ?? '?'}: model ${ref.path} not found (${full}: no such file or folder)`);
      const c = await openCheckpointPath(full);
      opened.push(c);
      byPath.set(ref.path, c);
    }
    const plan = planMerge(recipe, byPath);
    const { config, tokenizer } = await modelFilesOf(plan.reference.checkpoint, plan.reference.label);
    return { name: path, config, tokenizer, weights: soupWeightSource(plan, await backend()), plan, checkpoints: opened, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** config.json and the tokenizer files of a checkpoint folder. */
export async function modelFilesOf(checkpoint: Checkpoint, where: string): Promise<{ config: ModelConfig; tokenizer: TextTokenizer }> {
  const file = async (name: string, required: boolean): Promise<string | undefined> => {
    const source: ByteSource | undefined = checkpoint.extraFiles.get(name);
    if (!source) {
      if (required) throw new InputError(`${where}: no ${name} beside the weights; a model folder needs config.json and tokenizer.json to be evaluated`);
      return undefined;
    }
    return new TextDecoder().decode(await source.read(0, source.size));
  };
  const config = parseModelConfig((await file('config.json', true))!, `${where}/config.json`);
  const tokenizer = loadTokenizer((await file('tokenizer.json', true))!, await file('tokenizer_config.json', false), `${where}/tokenizer.json`);
  return { config, tokenizer };
}
