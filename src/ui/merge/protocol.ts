/** Messages between the studio page and its merge worker (structured clone: Files and handles travel as they are). */
import type { GgufFileType } from '../../model/gguf/writeGguf';
import type { MergeProgress } from '../../merge/runMerge';
import type { RunRecipeResult } from '../../merge/runRecipe';
import type { ExtractedTensor } from '../../formats/lora/extractLora';
import type { WorkerIngredient } from '../ingredients/types';

export type BackendChoice = 'webgpu' | 'cpu';

export type OutputRequest =
  | { kind: 'folder'; dir: FileSystemDirectoryHandle }
  | { kind: 'file'; file: FileSystemFileHandle }
  /** A new folder of that name under souplab-output/ (OUTPUT_FOLDER) in the origin private file system. */
  | { kind: 'opfs'; folder: string };

export interface StartRequest {
  type: 'start';
  /** Recipe model paths are these names; a LoRA adapter's carries its base. */
  ingredients: WorkerIngredient[];
  recipeYaml: string;
  output: OutputRequest;
  backend: BackendChoice;
  /** Shard limit for folder outputs (default 5 GB). */
  maxShardBytes?: number;
  /** Export one GGUF file instead of safetensors (into a folder, the file, or browser storage). */
  gguf?: GgufRequest;
  /** More __metadata__ entries for the output (a search's evidence when a search row is exported). */
  metadata?: Record<string, string>;
  /** Export the soup as a rank-r PEFT LoRA adapter against the recipe's base model instead (a folder output). */
  lora?: LoraRequest;
}

export interface LoraRequest {
  rank: number;
}

export interface GgufRequest {
  type: GgufFileType;
  /** Its name in the folder (the picked file's own name for a file output). */
  fileName: string;
  /** general.name: the file's name without .gguf, as `souplab merge --out NAME.gguf` writes it. */
  name: string;
}

export interface CancelRequest {
  type: 'cancel';
}

/**
 * Sent to a merge worker started before the user asks to merge (mergeClient's prepareMerge): make the
 * backend now, so that the start finds it ready.
 */
export interface WarmRequest {
  type: 'warm';
  backend: BackendChoice;
}

export type ToWorker = StartRequest | CancelRequest | WarmRequest;

/** Model files written (shards and index), the other files (recipe.yaml, config…), counts and timing. */
export interface MergeDone extends MergeJobResult {
  backend: string;
  outputName: string;
  outputKind: OutputRequest['kind'];
  /** Where the output is, for download links (OPFS) and re-reading. */
  dir?: FileSystemDirectoryHandle;
  file?: FileSystemFileHandle;
}

export type FromWorker =
  | { type: 'backend'; description: string; kind: BackendChoice }
  | { type: 'progress'; progress: MergeProgress }
  | { type: 'done'; done: MergeDone }
  | { type: 'failed'; message: string; cancelled: boolean };

/** What a merge made: its files, counts and whether the output was read back and checked. */
export interface MergeJobResult {
  /** A GGUF export: its weight type, tensors a Q8_0 file kept F16, notes (no chat template…). */
  gguf?: RunRecipeResult['gguf'];
  modelFiles: string[];
  otherFiles: string[];
  tensors: number;
  tensorsMerged: number;
  bytesWritten: number;
  seconds: number;
  verified: boolean;
  /** The seed of the random masks (DARE, DELLA), recorded in the output. */
  randomSeed?: number;
  /** A LoRA adapter export: its rank, the base it is for (as the recipe names it), and each tensor's fate. */
  lora?: { rank: number; base: string; tensors: ExtractedTensor[] };
}
