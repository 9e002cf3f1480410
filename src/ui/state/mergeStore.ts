/**
 * The merge in progress: where it writes, on which backend, its progress and its outcome. The work
 * itself runs in the merge worker (src/ui/merge/mergeWorker.ts).
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { GgufFileType } from '../../model/gguf/writeGguf';
import type { MergeProgress } from '../../merge/runMerge';
import { GGUF_TYPES, isPickerCancel, showDirectoryPicker, showSaveFilePicker } from '../ingredients/fsAccess';
import { messageOf } from '../ingredients/openIngredient';
import { workerIngredient, type IngredientInput } from '../ingredients/types';
import { MergeFailure, startMerge, type RunningMerge } from '../merge/mergeClient';
import { GGUF_FILE, storageShortfall } from '../merge/browserStorage';
import { checkOutputFolder } from '../merge/outputChecks';
import type { BackendChoice, GgufRequest, MergeDone, OutputRequest } from '../merge/protocol';

export type OutputKind = 'folder' | 'file' | 'opfs';
/** A Hugging Face checkpoint (safetensors), one GGUF file for llama.cpp, Ollama, LM Studio, or a PEFT LoRA adapter against the base. */
export type OutputFormat = 'safetensors' | 'gguf' | 'lora';

/** The LoRA export's rank until one is chosen. */
export const DEFAULT_LORA_RANK = 16;

type Phase = 'idle' | 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';

interface MergeState {
  output: OutputKind;
  format: OutputFormat;
  /** The GGUF's weight type; null: the soup's own (BF16 for BF16 fine-tunes). */
  ggufType: GgufFileType | null;
  /** The LoRA adapter export's rank r. */
  loraRank: number;
  /** null: WebGPU when an adapter exists, else the CPU. */
  backend: BackendChoice | null;
  phase: Phase;
  progress: MergeProgress | null;
  backendDescription: string | null;
  result: MergeDone | null;
  error: string | null;
  /**
   * The save or folder dialog did not give a place (it could not open — headless or embedded browsers —
   * or was closed): nothing was written, and the page offers browser storage instead.
   */
  pickerNote: string | null;
  setOutput(o: OutputKind): void;
  setFormat(f: OutputFormat): void;
  setGgufType(t: GgufFileType | null): void;
  setLoraRank(r: number): void;
  setBackend(b: BackendChoice): void;
  /** Call from the Merge button's click: the pickers need that user gesture. */
  start(args: {
    ingredients: IngredientInput[];
    recipeYaml: string;
    backend: BackendChoice;
    suggestedName: string;
    outputBytes: number;
    /** Export GGUF of this type (the format chosen is GGUF). */
    ggufType?: GgufFileType;
    /** More __metadata__ entries for the output (a search's evidence). */
    metadata?: Record<string, string>;
    /** Export a LoRA adapter of this rank against the recipe's base (the format chosen is LoRA). */
    loraRank?: number;
  }): Promise<void>;
  cancel(): void;
}

let running: RunningMerge | null = null;

/** 2026-11-27-165801: sorts by time, safe in file names. */
const timestamp = (d: Date) => d.toISOString().slice(0, 19).replace('T', '-').replace(/:/g, '');

export const useMergeStore = create<MergeState>()(
  persist(
    (set, get) => ({
      output: 'folder',
      format: 'safetensors',
      ggufType: null,
      loraRank: DEFAULT_LORA_RANK,
      backend: null,
      phase: 'idle',
      progress: null,
      backendDescription: null,
      result: null,
      error: null,
      pickerNote: null,
      setOutput: (output) => set({ output, pickerNote: null }),
      setFormat: (format) => set({ format }),
      setGgufType: (ggufType) => set({ ggufType }),
      setLoraRank: (loraRank) => set({ loraRank }),
      setBackend: (backend) => set({ backend }),
      async start({ ingredients, recipeYaml, backend, suggestedName, outputBytes, ggufType, metadata, loraRank }) {
        if (get().phase === 'running' || get().phase === 'cancelling') return;
        let output: OutputRequest;
        // A GGUF is named after its file (general.name), as `souplab merge --out NAME.gguf` names it.
        const gguf = (fileName: string, name: string): GgufRequest | undefined => (ggufType ? { type: ggufType, fileName, name } : undefined);
        let ggufRequest: GgufRequest | undefined;
        try {
          const kind = get().output;
          if (kind === 'folder') {
            const dir = await showDirectoryPicker('readwrite', 'souplab-output');
            ggufRequest = gguf(`${suggestedName}.gguf`, suggestedName);
            const problem = await checkOutputFolder(dir, ingredients, ggufRequest?.fileName);
            if (problem === 'declined') return;
            if (problem) throw new Error(problem);
            output = { kind: 'folder', dir };
          } else if (kind === 'file') {
            if (loraRank !== undefined) throw new Error('A LoRA adapter is two files (adapter_config.json and adapter_model.safetensors): export it to a folder or to browser storage');
            const file = ggufType ? await showSaveFilePicker(`${suggestedName}.gguf`, GGUF_TYPES) : await showSaveFilePicker(`${suggestedName}.safetensors`);
            ggufRequest = gguf(file.name, file.name.replace(/\.gguf$/i, ''));
            output = { kind: 'file', file };
          } else {
            // Checked before a byte is written: a full quota would fail the merge near its end.
            const shortfall = await storageShortfall(outputBytes);
            if (shortfall) throw new Error(shortfall);
            const folder = `${suggestedName}${loraRank !== undefined ? `-lora-r${loraRank}` : ''}-${timestamp(new Date())}`;
            ggufRequest = gguf(GGUF_FILE, folder);
            output = { kind: 'opfs', folder };
          }
        } catch (e) {
          const kind = get().output;
          if (isPickerCancel(e) && kind !== 'opfs') {
            const what = kind === 'file' ? 'The save dialog' : 'The folder dialog';
            set({ pickerNote: `${what} did not open or was closed, so nothing was written. Save the soup to browser storage instead, then download it from there.` });
          } else if (!isPickerCancel(e)) set({ phase: 'failed', error: messageOf(e), result: null, progress: null });
          return;
        }
        set({ pickerNote: null });
        set({ phase: 'running', progress: null, result: null, error: null, backendDescription: null });
        const files = ingredients.map((i) => workerIngredient(i));
        running = startMerge(
          { type: 'start', ingredients: files, recipeYaml, output, backend, gguf: ggufRequest, metadata, lora: loraRank !== undefined ? { rank: loraRank } : undefined },
          { progress: (progress) => set({ progress }), backend: (backendDescription) => set({ backendDescription }) },
        );
        try {
          const result = await running.done;
          set({ phase: 'done', result });
        } catch (e) {
          const cancelled = e instanceof MergeFailure && e.cancelled;
          set({ phase: cancelled ? 'cancelled' : 'failed', error: messageOf(e) });
        } finally {
          running = null;
        }
      },
      cancel() {
        if (!running) return;
        set({ phase: 'cancelling' });
        running.cancel();
      },
    }),
    { name: 'souplab.merge', storage: createJSONStorage(() => localStorage), partialize: (s) => ({ output: s.output, backend: s.backend, format: s.format, ggufType: s.ggufType, loraRank: s.loraRank }) },
  ),
);
