/**
 * Opens what `souplab eval` and `souplab search` evaluate: a model folder, or a recipe souped in memory
 * (the merge plan computed tensor by tensor, nothing written), with its config and tokenizer (those of
 * the recipe's base model, or its first model, as `souplab merge` carries them).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import type { SoupBackend } from '../merge/kernel';
import { modelRefsOf, type MergePlan } from '../merge/plan';
import { parseRecipe } from '../merge/recipe';
import { soupInMemory } from '../merge/soupInMemory';
import { readModelFiles } from '../model/load';
import { HfTokenizer } from '../model/tokenizer';
import type { ModelConfig, TextTokenizer, WeightSource } from '../model/types';
import { checkpointWeightSource, checkWeights } from '../model/weights';
import { type NodeCheckpoint } from './openCheckpointPath';
import { openCheckpointRef } from './openCheckpointRef';
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
    // `base+adapter` evaluates the base with the LoRA merged in, tensor by tensor as the model reads it.
    const checkpoint = await openCheckpointRef(path);
    try {
      const { config, tokenizer } = await modelFilesOf(checkpoint, path);
      checkWeights(config, checkpointWeightSource(checkpoint), path);
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
      for (const part of ref.path.split('+')) {
        const full = isAbsolute(part) ? part : resolve(dirname(resolve(path)), part);
        if (!(await stat(full).catch(() => undefined))) throw new InputError(`${path} line ${ref.line ?? '?'}: model ${part} not found (${full}: no such file or folder)`);
      }
      const c = await openCheckpointRef(ref.path, dirname(resolve(path)));
      opened.push(c);
      byPath.set(ref.path, c);
    }
    const { plan, weights } = await soupInMemory(recipe, byPath, await backend());
    const { config, tokenizer } = await modelFilesOf(plan.reference.checkpoint, plan.reference.label);
    return { name: path, config, tokenizer, weights, plan, checkpoints: opened, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** config.json and the tokenizer of a checkpoint folder (the runtime's reader); scoring needs a tokenizer. */
export async function modelFilesOf(checkpoint: Checkpoint, where: string): Promise<{ config: ModelConfig; tokenizer: TextTokenizer }> {
  const files = await readModelFiles(where, checkpoint.extraFiles);
  if (files.tokenizerJson === null) throw new InputError(`${where}: no tokenizer.json beside the weights; evaluation needs the model's tokenizer`);
  return { config: files.config, tokenizer: new HfTokenizer(files.tokenizerJson, files.tokenizerConfigJson, where) };
}
