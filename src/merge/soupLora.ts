/**
 * A recipe's soup exported as a rank-r PEFT LoRA adapter against the recipe's base model: the studio's
 * "LoRA adapter" export, the same steps as `souplab merge recipe.yaml --out soup/` followed by
 * `souplab extract-lora soup/ --base <base> --rank r --out adapter/` (runRecipe, then extractLora), so
 * both write the same bytes for the same recipe.
 *
 * The soup goes to a scratch place first (extractLora reads whole tensors of it, one pair at a time), then
 * the adapter to the target; the scratch is discarded whatever happens. A failure or a cancel leaves no
 * adapter (the target is committed by extractLora's writer only when all is written).
 */
import { InputError } from '../errors';
import { openCheckpoint, type Checkpoint } from '../formats/checkpoint';
import { openLoraAdapter } from '../formats/lora/adapter';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../formats/lora/adapterConfig';
import { extractLora, type ExtractedTensor } from '../formats/lora/extractLora';
import { MemoryTarget } from '../formats/memoryTarget';
import type { ByteSource } from '../formats/types';
import type { OutputTarget } from '../formats/writer';
import { parseRecipe } from './recipe';
import { runRecipe, type RunRecipeOptions, type RunRecipeResult } from './runRecipe';

/** Where the soup is written before the adapter is extracted from it. */
export interface SoupScratch {
  target: OutputTarget;
  /** Opens the soup's files once written (the names runMerge reports). */
  open(files: string[]): Promise<Checkpoint>;
  /** Removes what the scratch holds. */
  discard(): Promise<void>;
}

export interface SoupLoraOptions extends Omit<RunRecipeOptions, 'target' | 'folder' | 'gguf' | 'maxShardBytes' | 'readBack'> {
  rank: number;
  target: OutputTarget;
  scratch: SoupScratch;
  /** Opens a written adapter file again, so that the adapter is re-read and checked as a merge would read it. */
  readBack?: (fileName: string) => Promise<ByteSource>;
  /** The extraction's progress, tensor by tensor (the merge's comes through onProgress). */
  onExtractProgress?: (done: number, total: number, tensor: string) => void;
}

export interface SoupLoraResult {
  run: RunRecipeResult;
  rank: number;
  /** The recipe's base model as written, recorded as base_model_name_or_path. */
  base: string;
  /** Per tensor: LoRA factors (with the energy kept), whole (modules_to_save) or unchanged. */
  tensors: ExtractedTensor[];
  files: string[];
  /** True when the written adapter was re-read as a LoRA adapter (readBack given). */
  verified: boolean;
}

/** The soup in memory: for soups that fit the page's or process's memory. */
export function memoryScratch(): SoupScratch {
  let target = new MemoryTarget('soup');
  return {
    get target() {
      return target;
    },
    open: (files) => {
      if (files.length !== 1) throw new Error(`the soup was written as ${files.length} files; one was expected`);
      return openCheckpoint(target.sources().get(files[0])!, 'soup');
    },
    async discard() {
      target = new MemoryTarget('soup');
    },
  };
}

export async function runRecipeAsLora(opts: SoupLoraOptions): Promise<SoupLoraResult> {
  const { recipe } = parseRecipe(opts.text, opts.fileName);
  const baseRef = recipe.baseModel;
  if (!baseRef) {
    throw new InputError(`${opts.fileName}: a LoRA adapter is the soup's difference to the recipe's base model, and this recipe has no base_model; choose a method with a base model`);
  }
  if (!Number.isInteger(opts.rank) || opts.rank < 1) throw new InputError(`the LoRA rank must be a whole number of at least 1, got ${opts.rank}`);
  let base: Checkpoint | undefined;
  let soup: Checkpoint | undefined;
  try {
    // readBack is the adapter's: the soup in the scratch is read by the extraction itself.
    const { readBack: _adapterReadBack, ...merge } = opts;
    const run = await runRecipe({ ...merge, target: opts.scratch.target, folder: false });
    soup = await opts.scratch.open(run.result.files);
    base = await opts.openModel(baseRef, run.recipe);
    const lora = await extractLora(base, soup, opts.target, { rank: opts.rank, baseModelName: baseRef.path, signal: opts.signal, onProgress: opts.onExtractProgress });
    let verified = false;
    if (opts.readBack) {
      const files = new Map<string, ByteSource>();
      for (const f of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) files.set(f, await opts.readBack(f));
      await openLoraAdapter(files, opts.target.name);
      verified = true;
    }
    return { run, rank: opts.rank, base: baseRef.path, tensors: lora.tensors, files: lora.files, verified };
  } finally {
    await Promise.all([base, soup].map((c) => (c as (Checkpoint & { close?: () => Promise<void> }) | undefined)?.close?.().catch(() => undefined)));
    await opts.scratch.discard();
  }
}
