/**
 * The Search step: the form (persisted in localStorage), the search shown (its id persisted; its
 * trials, state and evidence in IndexedDB, written by the Search worker as they come), one run at a
 * time with progress and Cancel. After a reload the search shown is read back; one that was running
 * when the page went away is shown as interrupted, and starting it again resumes it — the engine
 * reuses every stored trial.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { getSearch, loadTrials, deleteSearch, type StoredSearch } from '../../browser/searchDb';
import type { SearchEvidence } from '../../search/evidence';
import { searchProvenance } from '../../search/outputs';
import { searchIdOf } from '../../search/manifest';
import type { TrialRecord } from '../../search/runSearch';
import type { PlanForecast } from '../../eval/estimate';
import { JobFailure, type RunningJob } from '../evalWorker/client';
import { advancePace, NO_PACE, type Pace } from '../evalWorker/pace';
import type { EvalBackend } from '../evalWorker/host';
import { workerIngredient, type IngredientInput } from '../ingredients/types';
import { messageOf } from '../ingredients/openIngredient';
import type { TaskText } from '../taste/protocol';
import { manifestOf, type ModelIdentity } from '../search/derive';
import type { SearchSettings, SearchStarted } from '../search/protocol';
import { startSearch, type SearchDone } from '../search/searchClient';

export type PlanKind = 'grid' | 'adaptive' | 'list';

export interface SearchForm {
  /** Ingredients left out of the search (the others are its candidates). */
  excluded: string[];
  /** The plan's ingredients; null: the soup's ingredients with a positive weight (the Scores view's experts when applied). */
  experts: string[] | null;
  planKind: PlanKind;
  step: number;
  /** The user's index.csv for the list plan. */
  list: { file: string; text: string } | null;
  /** Taste task files left out of the objective. */
  skippedTasks: string[];
  splitSeed: number;
  tuneShare: number;
}

export interface SearchProgress {
  done: number;
  planned: number;
  etaSeconds: number | undefined;
  phase: 'baselines' | 'plan' | 'coalitions' | null;
  scoring: { tokensDone: number; tokensTotal: number } | null;
  /** Points evaluated in this run (not taken from the store). */
  evaluated: number;
  /** Tokens per second while scoring, as the page hears the counts. */
  pace: Pace;
}

/** An exported search row: the soup's weights by ingredient name and the metadata the output carries. */
export interface ExportProvenance {
  trialId: string;
  weights: Record<string, number>;
  metadata: Record<string, string>;
}

type Phase = 'idle' | 'estimating' | 'starting' | 'running' | 'cancelling';

type StartArgs = { settings: SearchSettings; models: ModelIdentity[]; ingredients: IngredientInput[]; tasks: TaskText[] };

interface SearchState {
  form: SearchForm;
  currentId: string | null;
  search: StoredSearch<SearchSettings> | null;
  trials: TrialRecord[];
  phase: Phase;
  started: SearchStarted | null;
  progress: SearchProgress | null;
  /** The run's time from its warm-up (null: nothing left to evaluate, or not measured yet). */
  forecast: PlanForecast | null;
  message: { kind: 'error' | 'warning' | 'info'; text: string } | null;
  exported: ExportProvenance | null;
  init(): Promise<void>;
  setForm(patch: Partial<SearchForm>): void;
  start(args: StartArgs): Promise<void>;
  /** The plan's time from a warm-up (the points not stored yet), before starting: nothing evaluated or stored. */
  estimate(args: StartArgs): Promise<void>;
  cancel(): void;
  /** Forgets the search shown and deletes its stored trials. */
  discard(): Promise<void>;
  exportTrial(trial: TrialRecord, trialId: string, evidence: SearchEvidence): ExportProvenance;
}

export const DEFAULT_FORM: SearchForm = { excluded: [], experts: null, planKind: 'grid', step: 0.1, list: null, skippedTasks: [], splitSeed: 0, tuneShare: 0.5 };

let initPromise: Promise<void> | undefined;
let running: RunningJob<SearchDone> | null = null;

export const useSearchStore = create<SearchState>()(
  persist(
    (set, get) => ({
      form: DEFAULT_FORM,
      currentId: null,
      search: null,
      trials: [],
      phase: 'idle',
      started: null,
      progress: null,
      forecast: null,
      message: null,
      exported: null,
      init() {
        initPromise ??= (async () => {
          const id = get().currentId;
          if (id === null) return;
          try {
            const [search, trials] = await Promise.all([getSearch<SearchSettings>(id), loadTrials(id)]);
            if (!search) {
              set({ currentId: null });
              return;
            }
            if (get().phase !== 'idle') return;
            set({ search, trials });
            if (search.state === 'running') {
              set({ message: { kind: 'warning', text: `This search was interrupted (the page was closed or reloaded while it ran): ${trials.length} finished points are kept. Resume it to evaluate the rest.` } });
            } else if (search.message) set({ message: { kind: search.state === 'failed' ? 'error' : 'warning', text: search.message } });
          } catch (e) {
            set({ message: { kind: 'error', text: `The stored search could not be read: ${messageOf(e)}` } });
          }
        })();
        return initPromise;
      },
      setForm: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),
      async start({ settings, models, ingredients, tasks }) {
        if (running || get().phase !== 'idle') return;
        set({ phase: 'starting', message: null, started: null, progress: null, forecast: null });
        let id: string;
        try {
          const manifest = await manifestOf(settings, models, tasks);
          id = await searchIdOf(manifest);
          const [stored, trials] = await Promise.all([getSearch<SearchSettings>(id), loadTrials(id)]);
          set({ currentId: id, search: stored ?? null, trials });
          const byName = new Map(ingredients.map((i) => [i.name, i]));
          const req = {
            type: 'start' as const,
            searchId: id,
            manifest,
            settings,
            ingredients: settings.models.map((m) => workerIngredient(byName.get(m)!)),
            tasks,
          };
          set({ phase: 'running', progress: { done: 0, planned: 0, etaSeconds: undefined, phase: null, scoring: null, evaluated: 0, pace: NO_PACE } });
          running = startSearch(req, (m) => {
            const p = get().progress;
            if (m.type === 'started') {
              set({ started: m, search: { ...(get().search ?? newSearch(id, manifest, settings)), settings, state: 'running', message: null, loader: m.fit, backend: m.backend } });
            } else if (m.type === 'phase') set({ progress: p && { ...p, phase: m.phase, planned: m.planned } });
            else if (m.type === 'scoring') set({ progress: p && { ...p, scoring: { tokensDone: m.tokensDone, tokensTotal: m.tokensTotal }, pace: advancePace(p.pace, m.key, m.tokensDone, performance.now()) } });
            else if (m.type === 'forecast') set({ forecast: m.forecast });
            else if (m.type === 'trial') {
              const trials = get().trials;
              const at = trials.findIndex((t) => t.key === m.record.key);
              set({
                trials: at >= 0 ? trials.map((t, i) => (i === at ? m.record : t)) : [...trials, m.record],
                progress: p && { ...p, done: m.done, planned: m.planned, etaSeconds: m.etaSeconds, scoring: null, evaluated: p.evaluated + (m.reused ? 0 : 1) },
              });
            } else if (m.type === 'evidence') {
              const s = get().search;
              if (s) set({ search: { ...s, evidence: m.evidence } });
            }
          });
          const done = await running.done;
          if ('estimateOnly' in done) return;
          const s = get().search;
          set({
            search: s && { ...s, state: 'done', evidence: done.evidence },
            message: { kind: 'info', text: `Search done: ${done.planPoints} plan points; ${done.evaluated} evaluated in this run, ${get().trials.length - done.evaluated} taken from the stored results.` },
          });
        } catch (e) {
          const cancelled = e instanceof JobFailure && e.cancelled;
          const s = get().search;
          set({ search: s && { ...s, state: cancelled ? 'cancelled' : 'failed' }, message: { kind: cancelled ? 'warning' : 'error', text: messageOf(e) } });
        } finally {
          running = null;
          set({ phase: 'idle', progress: null });
        }
      },
      async estimate({ settings, models, ingredients, tasks }) {
        if (running || get().phase !== 'idle') return;
        set({ phase: 'estimating', message: null, started: null, progress: null, forecast: null });
        try {
          const manifest = await manifestOf(settings, models, tasks);
          const byName = new Map(ingredients.map((i) => [i.name, i]));
          running = startSearch(
            { type: 'start', searchId: await searchIdOf(manifest), manifest, settings, ingredients: settings.models.map((m) => workerIngredient(byName.get(m)!)), tasks, estimateOnly: true },
            (m) => {
              if (m.type === 'forecast') set({ forecast: m.forecast });
            },
          );
          await running.done;
          if (!get().forecast) set({ message: { kind: 'info', text: 'Nothing left to evaluate: every point of this search is stored.' } });
        } catch (e) {
          const cancelled = e instanceof JobFailure && e.cancelled;
          set({ message: cancelled ? { kind: 'warning', text: 'Estimate cancelled; nothing was evaluated.' } : { kind: 'error', text: messageOf(e) } });
        } finally {
          running = null;
          set({ phase: 'idle' });
        }
      },
      cancel() {
        if (!running) return;
        set({ phase: 'cancelling' });
        running.cancel();
      },
      async discard() {
        const id = get().currentId;
        if (running || id === null) return;
        set({ currentId: null, search: null, trials: [], message: null, started: null });
        await deleteSearch(id).catch(() => undefined);
      },
      exportTrial(trial, trialId, evidence) {
        const exported: ExportProvenance = {
          trialId,
          weights: Object.fromEntries(evidence.models.map((m, i) => [m, trial.weights[i]])),
          metadata: searchProvenance(trial, evidence),
        };
        set({ exported });
        return exported;
      },
    }),
    {
      name: 'souplab.search',
      version: 1,
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ form: s.form, currentId: s.currentId, exported: s.exported }),
    },
  ),
);

function newSearch(id: string, manifest: StoredSearch['manifest'], settings: SearchSettings): StoredSearch<SearchSettings> {
  const now = Date.now();
  return { id, manifest, settings, state: 'running', message: null, planned: 0, evidence: null, loader: null, backend: null, createdAt: now, updatedAt: now };
}

/** The provenance of the soup on screen, when it is an exported search row (same weights, normalised). */
export function provenanceFor(exported: ExportProvenance | null, soup: { name: string; weight: number }[]): ExportProvenance | null {
  if (!exported) return null;
  const sum = soup.reduce((a, m) => a + m.weight, 0);
  if (!(sum > 0)) return null;
  const names = new Set([...soup.map((m) => m.name), ...Object.keys(exported.weights).filter((n) => exported.weights[n] > 0)]);
  for (const n of names) {
    const w = soup.find((m) => m.name === n)?.weight ?? 0;
    if (Math.abs(w / sum - (exported.weights[n] ?? 0)) > 1e-6) return null;
  }
  return exported;
}

export type { EvalBackend };
