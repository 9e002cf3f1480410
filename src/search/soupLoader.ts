/**
 * Souping a search point into the loaded model, through the merge engine: a linear recipe over the
 * models with a positive weight → soupInMemory (pre-flight, coefficients, dtypes: the recipe's soup as a
 * WeightSource) → CausalLM.reloadWeights. The models' rows are already aligned to the search's
 * vocabulary when their tokenizers differ (searchVocabulary.ts), so a point's recipe has no tokenizer settings. With the models held in memory (inMemoryCheckpoint) nothing
 * touches the disk per point; with checkpoints backed by files each point streams its inputs from them.
 */
import { linearRecipeYaml } from '../analysis/recipes';
import type { Checkpoint } from '../formats/checkpoint';
import { bytesSource } from '../formats/memorySource';
import type { ByteSource } from '../formats/types';
import type { SoupBackend } from '../merge/kernel';
import type { MergePlan } from '../merge/plan';
import { parseRecipe } from '../merge/recipe';
import type { Recipe } from '../merge/recipeTypes';
import { planAlignedSoup, soupInMemory } from '../merge/soupInMemory';
import type { CausalLM, WeightSource } from '../model/types';
import { InputError, throwIfAborted } from '../errors';
import type { GpuIngredients } from '../merge/gpu/residentSoup';
import type { SoupLoader } from './runSearch';

export interface PlannedModel {
  /** As the search names it. */
  name: string;
  /** As a recipe refers to it (a path, relative to where best.yaml is written). */
  path: string;
  checkpoint: Checkpoint;
}

/** The linear recipe of a weight vector over the models (models with weight 0 are left out), and its models by recipe path. */
function pointRecipe(models: PlannedModel[], weights: number[]): { recipe: Recipe; checkpoints: Map<string, Checkpoint> } {
  const used = models.flatMap((m, i) => (weights[i] > 0 ? [{ m, w: weights[i] }] : []));
  const yaml = linearRecipeYaml(
    used.map(({ m }) => ({ name: m.name, checkpoint: m.path })),
    used.map(({ w }) => w),
  );
  const { recipe } = parseRecipe(yaml, 'search point');
  return { recipe, checkpoints: new Map(used.map(({ m }) => [m.path, m.checkpoint])) };
}

/** The merge plan of a weight vector over the models. */
export function planPoint(models: PlannedModel[], weights: number[]): MergePlan {
  const { recipe, checkpoints } = pointRecipe(models, weights);
  return planAlignedSoup(recipe, checkpoints);
}

/** The soup of a weight vector, in memory (each tensor computed as the model reads it). */
export async function soupPoint(models: PlannedModel[], weights: number[], backend: SoupBackend): Promise<WeightSource> {
  const { recipe, checkpoints } = pointRecipe(models, weights);
  return (await soupInMemory(recipe, checkpoints, backend)).weights;
}

export function planSoupLoader(model: CausalLM, models: PlannedModel[], backend: SoupBackend, description: string): SoupLoader {
  return {
    description,
    async load(weights, signal) {
      throwIfAborted(signal);
      const source = await soupPoint(models, weights, backend);
      // The model reads tensors one at a time; computing several at once keeps every soup worker busy.
      await model.reloadWeights(await prefetched(source, 4, signal), { signal });
    },
  };
}

/** The source's tensors computed `concurrency` at a time, then served from memory (the soup, once, as f32; the model keeps these arrays). */
async function prefetched(source: WeightSource, concurrency: number, signal?: AbortSignal): Promise<WeightSource> {
  const names = source.names();
  const values = new Map<string, Float32Array>();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      values.set(name, await source.readF32(name, signal));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
  return {
    names: () => names,
    shape: (name) => source.shape(name),
    dtype: (name) => source.dtype(name),
    readF32: async (name) => {
      const v = values.get(name);
      if (!v) throw new InputError(`the soup has no tensor ${name}`);
      return v;
    },
  };
}

/** Souping on the GPU, straight into the WebGPU model's weight buffers, from ingredients resident there. */
export function gpuSoupLoader(ingredients: GpuIngredients, models: PlannedModel[], description: string): SoupLoader {
  return {
    description,
    async load(weights, signal) {
      throwIfAborted(signal);
      const used = models.flatMap((_, i) => (weights[i] > 0 ? [i] : []));
      await ingredients.soupInto(planPoint(models, weights), used, signal);
    },
  };
}

/** A checkpoint whose files are read whole into memory once: the same names, headers and tensors, no disk reads after. */
export async function inMemoryCheckpoint(checkpoint: Checkpoint, signal?: AbortSignal): Promise<Checkpoint> {
  const files = new Map<string, ByteSource>();
  const piece = 256 << 20;
  for (const f of checkpoint.files) {
    const bytes = new Uint8Array(f.source.size);
    for (let at = 0; at < bytes.length; at += piece) {
      throwIfAborted(signal);
      bytes.set(await f.source.read(at, Math.min(piece, bytes.length - at)), at);
    }
    files.set(f.name, bytesSource(bytes, f.source.name));
  }
  return { ...checkpoint, files: checkpoint.files.map((f) => ({ ...f, source: files.get(f.name)! })), tensors: await retarget(checkpoint, files, signal) };
}

async function retarget(checkpoint: Checkpoint, files: Map<string, ByteSource>, signal?: AbortSignal): Promise<Checkpoint['tensors']> {
  const out: Checkpoint['tensors'] = new Map();
  const fileSources = new Map(checkpoint.files.map((f) => [f.name, f.source]));
  for (const [name, t] of checkpoint.tensors) {
    const file = files.get(t.file);
    // Read from its file only when it is that file's bytes: a tensor with rows permuted to another vocabulary keeps its file's name.
    if (file && fileSources.get(t.file) === t.source) {
      out.set(name, { ...t, source: file });
      continue;
    }
    // A tensor computed on read (a LoRA adapter's, src/formats/lora; rows aligned to a vocabulary, src/merge/vocabulary), computed once here.
    throwIfAborted(signal);
    const bytes = await t.source.read(t.info.byteOffset, t.info.byteLength);
    out.set(name, { ...t, info: { ...t.info, byteOffset: 0 }, source: bytesSource(bytes, t.source.name) });
  }
  return out;
}

/** Bytes of tensor data a checkpoint holds. */
export function checkpointBytes(checkpoint: Checkpoint): number {
  let n = 0;
  for (const t of checkpoint.tensors.values()) n += t.info.byteLength;
  return n;
}
