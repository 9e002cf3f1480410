import { useSoupStore } from './soupStore';
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { parseScoreTable, type CorrelationMethod, type ExpertMode, type LowCorrelationRule, type TextFile } from '../../analysis';
import { DEMO_CANDIDATES, fetchDemoTable } from '../scores/demo';
import { errorMessage, type AnalysisChoices } from '../scores/derive';
import { InputError } from '../../errors';
import { idbDelete, idbGet, idbSet } from './idb';

/** Where the score table came from: the bundled demo, or files the user gave (their text lives in IndexedDB). */
export type ScoresSource = { kind: 'demo' } | { kind: 'user'; names: string[] };

const FILES_KEY = 'souplab.scores.files';

/** categories null: the table's leaf categories; candidates null: every model. */
export interface ScoresOptions extends AnalysisChoices {
  /** null: detected. */
  modelColumn: string | null;
}

interface ScoresState extends ScoresOptions {
  source: ScoresSource;
  /** The table's files (not persisted here: the user's are in IndexedDB, the demo is fetched). */
  files: TextFile[] | null;
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** Why the last files given could not be read, or the saved table could not be restored. */
  loadError: string | null;
  /** Loads the saved table, or the demo on first run. Safe to call more than once. */
  init(): Promise<void>;
  loadFiles(files: TextFile[]): Promise<void>;
  loadDemo(): Promise<void>;
  setModelColumn(c: string | null): void;
  setCategories(c: string[] | null): void;
  setCandidates(c: string[] | null): void;
  setTau(tau: number): void;
  setMode(mode: ExpertMode): void;
  setRule(rule: LowCorrelationRule): void;
  setMethod(method: CorrelationMethod): void;
  setCandidateRowsOnly(v: boolean): void;
}

export const DEFAULT_TAU = 0.2;

const freshOptions = (source: ScoresSource): ScoresOptions => ({
  modelColumn: null,
  categories: null,
  candidates: source.kind === 'demo' ? [...DEMO_CANDIDATES] : null,
  tau: DEFAULT_TAU,
  mode: 'paper',
  rule: 'signed',
  method: 'pearson',
  candidateRowsOnly: false,
});

let initPromise: Promise<void> | undefined;
/**
 * Counts table loads. A demo fetch that finishes after the user dropped a table (or asked for the demo
 * again) is stale and must not replace what is there: it applies only while its generation is current.
 */
let loadGeneration = 0;

export const useScoresStore = create<ScoresState>()(
  persist(
    (set, get) => ({
      source: { kind: 'demo' },
      ...freshOptions({ kind: 'demo' }),
      files: null,
      status: 'idle',
      loadError: null,
      init() {
        initPromise ??= (async () => {
          const source = get().source;
          if (source.kind === 'user') {
            try {
              const files = await idbGet<TextFile[]>(FILES_KEY);
              if (files && files.length > 0) {
                set({ files, status: 'ready', loadError: null });
                return;
              }
            } catch {
              // IndexedDB unavailable (private window…): fall back to the demo below, and say so.
            }
            set({ source: { kind: 'demo' }, ...freshOptions({ kind: 'demo' }), loadError: `your table (${source.names.join(', ')}) could not be restored; showing the demo` });
          }
          await loadDemoFiles(set);
        })();
        return initPromise;
      },
      async loadFiles(files) {
        if (files.length === 0) return;
        try {
          // A broken table never replaces a working one: the error is shown beside what is there.
          const table = parseScoreTable(files);
          if (table.columns.length === 0)
            throw new InputError(
              `${table.source}: no column holds scores (the columns are ${[table.modelColumn, ...table.textColumns].join(', ')}); a score table has a row per model and a numeric column per category`,
            );
        } catch (e) {
          set({ loadError: errorMessage(e) });
          return;
        }
        const source: ScoresSource = { kind: 'user', names: files.map((f) => f.name) };
        loadGeneration++;
        set({ source, files, status: 'ready', loadError: null, ...freshOptions(source) });
        // The experts proposed from the last table belong to it, not to this one.
        useSoupStore.getState().dismissProposal();
        try {
          await idbSet(FILES_KEY, files);
        } catch (e) {
          set({ loadError: `the table is shown but could not be saved for the next visit: ${errorMessage(e)}` });
        }
      },
      async loadDemo() {
        set({ source: { kind: 'demo' }, ...freshOptions({ kind: 'demo' }), loadError: null });
        useSoupStore.getState().dismissProposal();
        await loadDemoFiles(set);
        await idbDelete(FILES_KEY).catch(() => undefined);
      },
      setModelColumn: (modelColumn) => set({ modelColumn, categories: null, candidates: null }),
      setCategories: (categories) => set({ categories }),
      setCandidates: (candidates) => set({ candidates }),
      setTau: (tau) => set({ tau: Math.min(1, Math.max(0, tau)) }),
      setMode: (mode) => set({ mode }),
      setRule: (rule) => set({ rule }),
      setMethod: (method) => set({ method }),
      setCandidateRowsOnly: (candidateRowsOnly) => set({ candidateRowsOnly }),
    }),
    {
      name: 'souplab.scores',
      version: 1,
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({
        source: s.source,
        modelColumn: s.modelColumn,
        categories: s.categories,
        candidates: s.candidates,
        tau: s.tau,
        mode: s.mode,
        rule: s.rule,
        method: s.method,
        candidateRowsOnly: s.candidateRowsOnly,
      }),
    },
  ),
);

async function loadDemoFiles(set: (s: Partial<ScoresState>) => void): Promise<void> {
  const generation = ++loadGeneration;
  set({ status: 'loading' });
  try {
    const file = await fetchDemoTable();
    if (generation === loadGeneration) set({ files: [file], status: 'ready' });
  } catch (e) {
    if (generation === loadGeneration) set({ status: 'error', loadError: e instanceof Error ? e.message : String(e) });
  }
}
