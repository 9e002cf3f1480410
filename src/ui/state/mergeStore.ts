/**
 * The merge in progress: where it writes, on which backend, its progress and its outcome. The work
 * itself runs in the merge worker (src/ui/merge/mergeWorker.ts).
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { MergeProgress } from '../../merge/runMerge';
import { isPickerCancel, showDirectoryPicker, showSaveFilePicker } from '../ingredients/fsAccess';
import { messageOf } from '../ingredients/openIngredient';
import type { IngredientInput } from '../ingredients/types';
import { MergeFailure, startMerge, type RunningMerge } from '../merge/mergeClient';
import { storageShortfall } from '../merge/browserStorage';
import { checkOutputFolder } from '../merge/outputChecks';
import type { BackendChoice, MergeDone, OutputRequest } from '../merge/protocol';

export type OutputKind = 'folder' | 'file' | 'opfs';

type Phase = 'idle' | 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';

interface MergeState {
  output: OutputKind;
  /** null: WebGPU when an adapter exists, else the CPU. */
  backend: BackendChoice | null;
  phase: Phase;
  progress: MergeProgress | null;
  backendDescription: string | null;
  result: MergeDone | null;
  error: string | null;
  setOutput(o: OutputKind): void;
  setBackend(b: BackendChoice): void;
  /** Call from the Merge button's click: the pickers need that user gesture. */
  start(args: { ingredients: IngredientInput[]; recipeYaml: string; backend: BackendChoice; suggestedName: string; outputBytes: number; metadata?: Record<string, string> }): Promise<void>;
  cancel(): void;
}

let running: RunningMerge | null = null;

/** 2026-11-27-165801: sorts by time, safe in file names. */
const timestamp = (d: Date) => d.toISOString().slice(0, 19).replace('T', '-').replace(/:/g, '');

export const useMergeStore = create<MergeState>()(
  persist(
    (set, get) => ({
      output: 'folder',
      backend: null,
      phase: 'idle',
      progress: null,
      backendDescription: null,
      result: null,
      error: null,
      setOutput: (output) => set({ output }),
      setBackend: (backend) => set({ backend }),
      async start({ ingredients, recipeYaml, backend, suggestedName, outputBytes, metadata }) {
        if (get().phase === 'running' || get().phase === 'cancelling') return;
        let output: OutputRequest;
        try {
          const kind = get().output;
          if (kind === 'folder') {
            const dir = await showDirectoryPicker('readwrite', 'souplab-output');
            const problem = await checkOutputFolder(dir, ingredients);
            if (problem === 'declined') return;
            if (problem) throw new Error(problem);
            output = { kind: 'folder', dir };
          } else if (kind === 'file') {
            output = { kind: 'file', file: await showSaveFilePicker(`${suggestedName}.safetensors`) };
          } else {
            // Checked before a byte is written: a full quota would fail the merge near its end.
            const shortfall = await storageShortfall(outputBytes);
            if (shortfall) throw new Error(shortfall);
            output = { kind: 'opfs', folder: `${suggestedName}-${timestamp(new Date())}` };
          }
        } catch (e) {
          if (!isPickerCancel(e)) set({ phase: 'failed', error: messageOf(e), result: null, progress: null });
          return;
        }
        set({ phase: 'running', progress: null, result: null, error: null, backendDescription: null });
        const files = ingredients.map((i) => ({ name: i.name, kind: i.kind, files: i.files }));
        running = startMerge(
          { type: 'start', ingredients: files, recipeYaml, output, backend, metadata },
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
    { name: 'souplab.merge', storage: createJSONStorage(() => localStorage), partialize: (s) => ({ output: s.output, backend: s.backend }) },
  ),
);
