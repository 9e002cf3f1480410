import type { Checkpoint } from '../../formats/checkpoint';

/** A file as the browser gave it: a File (input, drop, fetch) or a FileSystemFileHandle (picker, drop). Both go to workers. */
export type SourceItem = File | FileSystemFileHandle;

/** What the user added, before it is opened: one .safetensors file, or the files of a checkpoint folder. */
export interface IngredientInput {
  name: string;
  kind: 'file' | 'folder';
  /** File name (inside the folder) → the file. */
  files: [string, SourceItem][];
  /** A demo checkpoint shipped with the studio. */
  demo?: boolean;
  /** The handle given by a picker or a drop: kept in IndexedDB to reopen the ingredient after a reload. */
  handle?: FileSystemFileHandle | FileSystemDirectoryHandle;
  /** A LoRA adapter folder's base (a loaded ingredient it fits): the ingredient is the base with the adapter merged in. */
  base?: IngredientInput;
}

/** What a worker (merge, taste, search) gets of an ingredient: its files, and a LoRA adapter's base. */
export type WorkerIngredient = Pick<IngredientInput, 'name' | 'kind' | 'files' | 'base'>;

/** The ingredient as sent to a worker (the base travels with an adapter: the worker opens base+adapter). */
export function workerIngredient(input: IngredientInput, name = input.name): WorkerIngredient {
  return { name, kind: input.kind, files: input.files, ...(input.base ? { base: input.base } : {}) };
}

export interface IngredientSummary {
  files: { name: string; bytes: number }[];
  /** Other files of the folder (config.json, tokenizer…), carried into a folder export. */
  extraFiles: string[];
  tensors: number;
  parameters: number;
  /** Bytes of the safetensors files. */
  bytes: number;
  dtypes: { dtype: string; tensors: number; bytes: number }[];
  sharded: boolean;
  /** A LoRA adapter's: its rank and kind, the base it was trained on (as PEFT recorded it) and the loaded base it is merged into. */
  lora?: { r: number; alpha: number; dora: boolean; rslora: boolean; trainedOn?: string; base: string; adaptedTensors: number };
}

export type Ingredient =
  | { id: string; name: string; input: IngredientInput; status: 'reading' }
  | { id: string; name: string; input: IngredientInput; status: 'ready'; checkpoint: Checkpoint; summary: IngredientSummary }
  | { id: string; name: string; input: IngredientInput; status: 'error'; error: string };

/** The vocabularies of the soup's models as the pre-flight shows them (vocabulary.ts). */
export interface StudioVocabulary {
  /** One line per model that differs, then the output vocabulary (of the choice, else of the union). */
  lines: string[];
  /** Some model's tokens differ from the base's. */
  differ: boolean;
  /** With a choice: the checkpoints by recipe path, rows aligned. */
  aligned?: Map<string, Checkpoint>;
  /** Why the vocabularies cannot be aligned (a token id collision…), in one sentence. */
  error?: string;
}
