import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { parseTrials, rankTrials, type TextFile, type TrialTable } from '../../analysis';
import { errorMessage } from '../scores/derive';
import { idbDelete, idbGet, idbSet } from './idb';

const FILE_KEY = 'souplab.trials.file';

/** The best evaluated soup: normalised weights by model name, and its objective (CONTRACTS.md). */
export interface BestTrial {
  weights: Record<string, number>;
  objective: number;
}

interface TrialsState {
  /** Name of the imported file (persisted; its text is in IndexedDB). */
  sourceName: string | null;
  /**
   * How the table's scores were put on one scale for the objective, in words, when the studio made the
   * table (Taste, Search); null for an imported file, whose scale the user knows.
   */
  objectiveRule: string | null;
  /** Score columns summed into the objective; null: every category of the trials table. */
  objectiveColumns: string[] | null;
  file: TextFile | null;
  table: TrialTable | null;
  /** Why the file is not a trials table, in words. */
  error: string | null;
  bestTrial: BestTrial | null;
  init(): Promise<void>;
  /** `objectiveRule`: how the studio put the file's scores on one scale (none for a user's file). */
  loadFile(file: TextFile, objectiveRule?: string): Promise<void>;
  clear(): Promise<void>;
  setObjectiveColumns(columns: string[] | null): void;
}

/** The best trial under an objective; null when nothing could be ranked. */
export function bestTrialOf(table: TrialTable, objectiveColumns: string[] | null): BestTrial | null {
  try {
    const ranking = rankTrials(table, { objective: { columns: usableObjective(table, objectiveColumns) } });
    const best = ranking.best;
    if (best === null || best.objective === null) return null;
    return { weights: Object.fromEntries(table.models.map((m, i) => [m, best.normalized[i]])), objective: best.objective };
  } catch {
    return null;
  }
}

/** The chosen objective columns that exist in this table; undefined (the categories) when none do. */
export function usableObjective(table: TrialTable, columns: string[] | null): string[] | undefined {
  if (columns === null) return undefined;
  const names = new Set(table.scores.columns.map((c) => c.name));
  const kept = columns.filter((c) => names.has(c));
  return kept.length > 0 ? kept : undefined;
}

function parse(file: TextFile, objectiveColumns: string[] | null): Pick<TrialsState, 'table' | 'error' | 'bestTrial'> {
  try {
    const table = parseTrials(file);
    return { table, error: null, bestTrial: bestTrialOf(table, objectiveColumns) };
  } catch (e) {
    return { table: null, error: errorMessage(e), bestTrial: null };
  }
}

let initPromise: Promise<void> | undefined;

export const useTrialsStore = create<TrialsState>()(
  persist(
    (set, get) => ({
      sourceName: null,
      objectiveRule: null,
      objectiveColumns: null,
      file: null,
      table: null,
      error: null,
      bestTrial: null,
      init() {
        initPromise ??= (async () => {
          if (get().sourceName === null) return;
          try {
            const file = await idbGet<TextFile>(FILE_KEY);
            if (file) {
              set({ file, ...parse(file, get().objectiveColumns) });
              return;
            }
          } catch {
            // fall through: say the trials are gone rather than show nothing
          }
          set({ sourceName: null, error: 'the trials imported earlier could not be restored; import them again' });
        })();
        return initPromise;
      },
      async loadFile(file, objectiveRule) {
        const parsed = parse(file, null);
        if (parsed.table === null) {
          // A broken file never replaces good trials: show the error beside what is there.
          set({ error: parsed.error });
          return;
        }
        set({ file, sourceName: file.name, objectiveRule: objectiveRule ?? null, objectiveColumns: null, ...parsed });
        try {
          await idbSet(FILE_KEY, file);
        } catch (e) {
          set({ error: `the trials are shown but could not be saved for the next visit: ${errorMessage(e)}` });
        }
      },
      async clear() {
        set({ file: null, sourceName: null, objectiveRule: null, table: null, error: null, bestTrial: null, objectiveColumns: null });
        await idbDelete(FILE_KEY).catch(() => undefined);
      },
      setObjectiveColumns(objectiveColumns) {
        const table = get().table;
        set({ objectiveColumns, bestTrial: table ? bestTrialOf(table, objectiveColumns) : null });
      },
    }),
    {
      name: 'souplab.trials',
      version: 1,
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ sourceName: s.sourceName, objectiveRule: s.objectiveRule, objectiveColumns: s.objectiveColumns }),
    },
  ),
);

// Other views (Ingredients) read bestTrial without opening this view: restore the trials right away.
if (typeof indexedDB !== 'undefined') void useTrialsStore.getState().init();
