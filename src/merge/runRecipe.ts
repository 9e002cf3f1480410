/**
 * The one engine entry that runs a recipe, for `souplab merge` and the studio's merge worker alike:
 * parse → open the models → pre-flight and plan → write the model, the recipe and the carried files →
 * verify. What differs between the platforms comes in as parameters: how a recipe's model path is
 * opened, where the output goes, which backend computes.
 *
 * The output is a safetensors checkpoint (runMerge), or with `gguf` one GGUF file for llama.cpp, streamed
 * from the soup without a safetensors file in between (soupGguf.ts).
 *
 * The recipe stored in the output (its __metadata__ "souplab.recipe" and, for a folder, recipe.yaml)
 * is the normalised mergekit YAML (recipeToYaml: runs unchanged in mergekit, model paths as written),
 * with the random seed filled in when the method draws masks and the recipe gave none.
 */
import type { Checkpoint } from '../formats/checkpoint';
import { isAdaptedCheckpoint } from '../formats/lora/adaptedCheckpoint';
import type { ByteSource } from '../formats/types';
import type { OutputTarget } from '../formats/writer';
import { carriedFiles } from './carriedFiles';
import type { SoupBackend } from './kernel';
import { getMethod } from './methods/registry';
import { modelRefsOf, type MergePlan } from './plan';
import { planMergeWithVocabulary, VOCABULARY_METADATA_KEY } from './vocabulary/planWithVocabulary';
import { parseRecipe, recipeToYaml, type ModelRef, type Recipe } from './recipe';
import { runMerge, type ExtraOutputFile, type MergeProgress, type MergeResult } from './runMerge';
import { ggufSoupInputs, writeSoupGguf, type GgufOutput, type GgufSoupInputs } from './soupGguf';
import type { GgufFileType } from '../model/gguf/writeGguf';

export interface RunRecipeOptions {
  /** The recipe's YAML, and the name its messages use ("soup.yaml line 4: …"). */
  text: string;
  fileName: string;
  /** Opens one model of the recipe (headers only). Errors should name the recipe line (ref.line). */
  openModel: (ref: ModelRef, recipe: Recipe) => Promise<Checkpoint>;
  /**
   * Called once the plan stands and before anything is written: the place to refuse an output that
   * would overwrite an input, and to show the pre-flight report and the recipe's warnings.
   */
  beforeWrite?: (plan: MergePlan, warnings: string[]) => Promise<void> | void;
  /** Made after the plan (so that a bad recipe fails before a GPU starts); disposed at the end. */
  backend: () => Promise<SoupBackend>;
  target: OutputTarget;
  /** A folder gets recipe.yaml and the reference model's config and tokenizer files beside the model. */
  folder: boolean;
  /**
   * Write one GGUF file instead of safetensors (folder and maxShardBytes do not apply). Its inputs (the
   * reference model's config.json and tokenizer.json) are checked right after beforeWrite, before a backend starts.
   */
  gguf?: GgufOutput;
  maxShardBytes?: number;
  readBack?: (fileName: string) => Promise<ByteSource>;
  /** A comment line written above the stored recipe (without "# "). */
  recipeComment?: string;
  /** More __metadata__ entries (a search's evidence, "souplab.search"). */
  metadata?: Record<string, string>;
  /** Seed for methods with random masks when the recipe has no random_seed (default: a random one). */
  drawSeed?: () => number;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Passed on to runMerge (tests and benchmarks). */
  maxJobBytes?: number;
}

export interface RunRecipeResult {
  plan: MergePlan;
  result: MergeResult;
  recipe: Recipe;
  warnings: string[];
  /** The recipe as stored in the output. */
  recipeYaml: string;
  /** Files written beside the model (folder outputs). */
  extraFiles: string[];
  backendDescription: string;
  /** The seed of the random masks, when the method draws them. */
  randomSeed?: number;
  /** For a GGUF output: its weight type, the tensors a Q8_0 file kept F16, and notes (no chat template…). */
  gguf?: { type: GgufFileType; q8Fallbacks: string[]; notes: string[]; architecture: string };
}

export async function runRecipe(opts: RunRecipeOptions): Promise<RunRecipeResult> {
  const { recipe, warnings } = parseRecipe(opts.text, opts.fileName);
  const method = getMethod(recipe.method);
  let randomSeed: number | undefined;
  if (method.needs.random) {
    const given = recipe.parameters.random_seed;
    if (given?.kind === 'value' && typeof given.value === 'number') randomSeed = given.value;
    else {
      randomSeed = (opts.drawSeed ?? drawSeed)() >>> 0;
      recipe.parameters.random_seed = { kind: 'value', value: randomSeed };
    }
  }

  const opened: Checkpoint[] = [];
  let backend: SoupBackend | undefined;
  let unbind = (): void => undefined;
  try {
    const checkpoints = new Map<string, Checkpoint>();
    for (const ref of modelRefsOf(recipe)) {
      const c = await opts.openModel(ref, recipe);
      opened.push(c);
      checkpoints.set(ref.path, c);
    }
    const { plan, vocabulary } = await planMergeWithVocabulary(recipe, checkpoints);
    await opts.beforeWrite?.(plan, warnings);
    const ggufInputs: GgufSoupInputs | undefined = opts.gguf ? await ggufSoupInputs(plan) : undefined;

    const recipeYaml = `${opts.recipeComment ? `# ${opts.recipeComment}\n` : ''}${recipeToYaml(recipe)}`;
    const extraFiles: ExtraOutputFile[] = [];
    if (opts.gguf && ggufInputs) {
      backend = await opts.backend();
      unbind = bindLoraRows(opened, backend);
      const written = await writeSoupGguf(plan, ggufInputs, {
        backend,
        target: opts.target,
        output: opts.gguf,
        readBack: opts.readBack,
        signal: opts.signal,
        onProgress: opts.onProgress,
      });
      const { type, q8Fallbacks, ...result } = written;
      const gguf = { type, q8Fallbacks, notes: ggufInputs.notes, architecture: ggufInputs.files.config.hfArchitecture };
      return { plan, result, recipe, warnings, recipeYaml, extraFiles: [], backendDescription: backend.description, randomSeed, gguf };
    }
    if (opts.folder) {
      extraFiles.push({ name: 'recipe.yaml', data: new TextEncoder().encode(recipeYaml) });
      extraFiles.push(...(await carriedFiles(plan)));
    }
    backend = await opts.backend();
    unbind = bindLoraRows(opened, backend);
    const metadata: Record<string, string> = { ...(opts.metadata ?? {}) };
    if (randomSeed !== undefined) metadata['souplab.random_seed'] = String(randomSeed);
    // Which tokens the output vocabulary adds and where their rows come from, for `souplab inspect`.
    if (vocabulary?.aligned) metadata[VOCABULARY_METADATA_KEY] = JSON.stringify(vocabulary.lines);
    const result = await runMerge(plan, {
      backend,
      target: opts.target,
      recipeYaml,
      metadata,
      maxShardBytes: opts.folder ? opts.maxShardBytes : Infinity,
      extraFiles,
      readBack: opts.readBack,
      signal: opts.signal,
      onProgress: opts.onProgress,
      maxJobBytes: opts.maxJobBytes,
    });
    return { plan, result, recipe, warnings, recipeYaml, extraFiles: extraFiles.map((f) => f.name), backendDescription: backend.description, randomSeed };
  } finally {
    unbind();
    await backend?.dispose().catch(() => undefined);
    await Promise.all(opened.map((c) => (c as Checkpoint & { close?: () => Promise<void> }).close?.().catch(() => undefined)));
  }
}

/**
 * Has the backend compute the adapted rows of the recipe's `base+adapter` models (the WebGPU backend's
 * kernel) for the time of the merge; returns what puts the CPU back.
 */
function bindLoraRows(checkpoints: Checkpoint[], backend: SoupBackend): () => void {
  const computer = backend.loraRows;
  const adapted = checkpoints.filter(isAdaptedCheckpoint);
  if (!computer || adapted.length === 0) return () => undefined;
  const before = adapted.map((c) => c.loraRows.computer);
  for (const c of adapted) c.loraRows.computer = computer;
  return () => adapted.forEach((c, i) => (c.loraRows.computer = before[i]));
}

function drawSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0];
}
