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
  let readOrder: string[] | undefined;
  return {
    description,
    async load(weights, signal) {
      throwIfAborted(signal);
      const source = await soupPoint(models, weights, backend);
      // The model reads tensors one at a time; computing the next few at once keeps every soup worker busy.
      const ahead = readAhead(source, signal, readOrder);
      await model.reloadWeights(ahead, { signal });
      readOrder = ahead.read;
    },
  };
}

/** Tensors computed ahead of the reader: at most this many at once… */
const AHEAD_TENSORS = 4;
/** …and at most this many bytes of f32 waiting; a larger tensor is streamed in pieces when it is read. */
const AHEAD_BYTES = 64 << 20;

/**
 * The source with its next small tensors computed a few at a time ahead of the reader, each handed out
 * once and then dropped, and its large ones streamed in pieces as they are read (the source's own jobs
 * in flight keep the soup workers busy within a tensor): no more than a window of the soup ever exists
 * as f32 (the whole soup as f32 is twice a 16-bit model: the host bound of issue 19 §2 would not hold).
 * `expected` is the order the reader is expected to ask in (the order it asked in last time: a model
 * reads its tensors in its own order), else `names()`; a tensor asked for out of that order is computed
 * when asked. `read` lists the order it was asked in.
 */
export function readAhead(
  source: WeightSource,
  signal?: AbortSignal,
  expected?: readonly string[],
  window = { tensors: AHEAD_TENSORS, bytes: AHEAD_BYTES },
): WeightSource & { read: string[] } {
  const names = source.names();
  const known = new Set(names);
  const bytesOf = (name: string) => 4 * source.shape(name).reduce((a, b) => a * b, 1);
  const order = (expected ?? names).filter((n) => known.has(n) && bytesOf(n) <= window.bytes);
  const read: string[] = [];
  const asked = new Set<string>();
  const pending = new Map<string, { bytes: number; value: Promise<Float32Array> }>();
  let next = 0;
  const fill = () => {
    while (next < order.length && pending.size < window.tensors) {
      const name = order[next];
      const waiting = [...pending.values()].reduce((a, p) => a + p.bytes, 0);
      if (waiting + bytesOf(name) > window.bytes) return;
      next++;
      if (!pending.has(name) && !asked.has(name)) {
        const value = source.readF32(name, signal);
        value.catch(() => undefined); // observed when it is read
        pending.set(name, { bytes: bytesOf(name), value });
      }
    }
  };
  const ask = (name: string) => {
    if (!known.has(name)) throw new InputError(`the soup has no tensor ${name}`);
    read.push(name);
    asked.add(name);
    const ready = pending.get(name);
    pending.delete(name);
    return ready?.value;
  };
  async function* pieces(name: string): AsyncGenerator<Float32Array> {
    const ready = ask(name);
    fill();
    try {
      if (ready) yield await ready;
      else if (source.streamF32) yield* source.streamF32(name, signal);
      else yield await source.readF32(name, signal);
    } finally {
      fill();
    }
  }
  return {
    read,
    names: () => names,
    shape: (name) => source.shape(name),
    dtype: (name) => source.dtype(name),
    readF32: async (name) => {
      const value = ask(name) ?? source.readF32(name, signal);
      fill();
      try {
        return await value;
      } finally {
        fill();
      }
    },
    streamF32: pieces,
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
  const piece = 64 << 20;
  for (const f of checkpoint.files) {
    const bytes = new Uint8Array(f.source.size);
    for (let at = 0; at < bytes.length; at += piece) {
      throwIfAborted(signal);
      const into = bytes.subarray(at, Math.min(bytes.length, at + piece));
      // Straight into the held copy where the source can: a read piece is garbage the next moment, and
      // pieces pile up in RSS before a collection (issue 19's host bound counts them).
      if (f.source.readInto) await f.source.readInto(at, into);
      else into.set(await f.source.read(at, into.length));
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
