/**
 * The Taste step: the task files (their text in IndexedDB; the demo set on a first visit), one run at a
 * time in the Taste worker with progress and Cancel, and the results of every run (kept in IndexedDB: a
 * reload shows them again). Finished scores stay until the user removes them, whatever later runs do: a
 * run adds its results beside the earlier ones when it ends, and the models it scored before a cancel or
 * a failure are kept as its results.
 */
import type { PlanForecast } from '../../eval/estimate';
import { advancePace, NO_PACE, type Pace } from '../evalWorker/pace';
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { parseTaskFile } from '../../eval/taskFile';
import type { ChoiceMetric } from '../../eval/scores';
import { messageOf } from '../ingredients/openIngredient';
import { fetchDemoTasks } from '../taste/demoTasks';
import type { ModelResult, TasteBackend, TasteProgress, TasteRequest, TaskText } from '../taste/protocol';
import { startTaste, TasteFailure, type RunningTaste } from '../taste/tasteClient';
import { formatBytes } from '../../util/bytes';
import { idbGet, idbSet } from './idb';

const TASKS_KEY = 'souplab.taste.tasks';
const RESULTS_KEY = 'souplab.taste.results';
/** Task files are items, not weights: anything larger is almost surely the wrong file. */
const MAX_TASK_BYTES = 32e6;

export interface TasteRun {
  results: ModelResult[];
  /** The soup's weights by ingredient name, as given (for Send to Trials). */
  soupWeights: Record<string, number>;
  soupName: string;
  backend: string;
  problems: string[];
  at: number;
  /** How the run ended: its results are every model it scored ('cancelled', 'failed': those before the stop). */
  ended?: 'done' | 'cancelled' | 'failed';
}

type Phase = 'idle' | 'estimating' | 'running' | 'done' | 'failed' | 'cancelled';

interface TasteState {
  tasks: TaskText[];
  tasksSource: 'demo' | 'user' | null;
  metric: ChoiceMetric;
  /** null: WebGPU on a hardware adapter, else the CPU. */
  backend: TasteBackend | null;
  phase: Phase;
  progress: TasteProgress | null;
  /** The run's time from its warm-up, once measured. */
  forecast: PlanForecast | null;
  /** Tokens per second while scoring, as the page hears the counts. */
  pace: Pace;
  /** The run in progress (its models as they are scored); null between runs. */
  run: TasteRun | null;
  /** Results of the finished runs, newest first. */
  runs: TasteRun[];
  message: string | null;
  init(): Promise<void>;
  addTaskFiles(files: File[]): Promise<void>;
  useDemoTasks(): Promise<void>;
  removeTask(file: string): void;
  setMetric(metric: ChoiceMetric): void;
  setBackend(backend: TasteBackend): void;
  start(req: Omit<TasteRequest, 'type' | 'tasks'>, soupWeights: Record<string, number>): void;
  /** The run's time from a warm-up, before tasting: the evaluator loaded, nothing scored. */
  estimate(req: Omit<TasteRequest, 'type' | 'tasks' | 'estimateOnly'>): void;
  cancel(): void;
  /** Removes one finished run's results (by its start time). */
  removeRun(at: number): void;
}

let initPromise: Promise<void> | undefined;
let running: RunningTaste | null = null;

export const useTasteStore = create<TasteState>()(
  persist(
    (set, get) => {
      const saveTasks = (tasks: TaskText[]) => void idbSet(TASKS_KEY, tasks).catch(() => undefined);
      const saveRuns = (runs: TasteRun[]) => void idbSet(RESULTS_KEY, runs).catch(() => undefined);
      return {
        tasks: [],
        tasksSource: null,
        metric: 'acc_norm',
        backend: null,
        phase: 'idle',
        progress: null,
        forecast: null,
        pace: NO_PACE,
        run: null,
        runs: [],
        message: null,
        init() {
          initPromise ??= (async () => {
            try {
              const [tasks, stored] = await Promise.all([idbGet<TaskText[]>(TASKS_KEY), idbGet<TasteRun[] | TasteRun | null>(RESULTS_KEY)]);
              // Earlier versions kept the last run alone.
              const runs = Array.isArray(stored) ? stored : stored ? [stored] : [];
              if (runs.length > 0) set({ runs: [...get().runs, ...runs], phase: get().phase === 'idle' ? 'done' : get().phase });
              if (tasks && tasks.length > 0) {
                set({ tasks, tasksSource: get().tasksSource ?? 'user' });
                return;
              }
            } catch {
              // IndexedDB unavailable (private window…): start from the demo tasks.
            }
            await get().useDemoTasks();
          })();
          return initPromise;
        },
        async addTaskFiles(files) {
          const added: TaskText[] = [];
          const skipped: string[] = [];
          for (const f of files) {
            if (!/\.(jsonl|ndjson|txt)$/i.test(f.name)) skipped.push(`${f.name}: not a task file (multiple choice .jsonl, or perplexity .txt / .jsonl with a "text" field)`);
            else if (f.size > MAX_TASK_BYTES) skipped.push(`${f.name}: ${formatBytes(f.size)} is too large for a task file (at most ${formatBytes(MAX_TASK_BYTES)})`);
            else added.push({ file: f.name, text: await f.text() });
          }
          if (added.length > 0) {
            // The demo tasks give way to the user's own; a file of the same name replaces the older one.
            const kept = get().tasksSource === 'demo' ? [] : get().tasks.filter((t) => !added.some((a) => a.file === t.file));
            const tasks = [...kept, ...added];
            set({ tasks, tasksSource: 'user' });
            saveTasks(tasks);
          }
          set({ message: skipped.length > 0 ? skipped.join('\n') : null });
        },
        async useDemoTasks() {
          try {
            const tasks = await fetchDemoTasks();
            set({ tasks, tasksSource: 'demo', message: null });
            saveTasks(tasks);
          } catch (e) {
            set({ message: messageOf(e) });
          }
        },
        removeTask(file) {
          const tasks = get().tasks.filter((t) => t.file !== file);
          set({ tasks, tasksSource: tasks.length === 0 ? null : get().tasksSource });
          saveTasks(tasks);
        },
        setMetric: (metric) => set({ metric }),
        setBackend: (backend) => set({ backend }),
        start(req, soupWeights) {
          if (running) return;
          const run: TasteRun = { results: [], soupWeights, soupName: req.soupName, backend: '', problems: [], at: Date.now() };
          set({ phase: 'running', progress: null, forecast: null, pace: NO_PACE, message: null, run });
          const update = (patch: Partial<TasteRun>) => {
            const current = get().run;
            if (current) set({ run: { ...current, ...patch } });
          };
          running = startTaste(
            { ...req, type: 'start', tasks: get().tasks },
            {
              started: (info) => update({ backend: info.backend, problems: info.problems }),
              forecast: (forecast) => set({ forecast }),
              progress: (progress) => set({ progress, pace: progress.phase === 'scoring' ? advancePace(get().pace, String(progress.modelIndex), progress.tokensDone, performance.now()) : get().pace }),
              model: (r) => update({ results: [...(get().run?.results ?? []), r] }),
            },
          );
          // Whatever way the run ends, what it scored joins the earlier results; nothing earlier is dropped.
          const finish = (ended: NonNullable<TasteRun['ended']>) => {
            running = null;
            const run = get().run;
            const runs = run && run.results.length > 0 ? [{ ...run, ended }, ...get().runs] : get().runs;
            set({ run: null, runs });
            saveRuns(runs);
          };
          running.done.then(
            () => {
              set({ phase: 'done', progress: null });
              finish('done');
            },
            (e: unknown) => {
              const cancelled = e instanceof TasteFailure && e.cancelled;
              set({ phase: cancelled ? 'cancelled' : 'failed', progress: null, message: e instanceof Error ? e.message : String(e) });
              finish(cancelled ? 'cancelled' : 'failed');
            },
          );
        },
        estimate(req) {
          if (running) return;
          const before = get().phase;
          set({ phase: 'estimating', forecast: null, message: null });
          const job = startTaste(
            { ...req, type: 'start', tasks: get().tasks, estimateOnly: true },
            { started: () => undefined, forecast: (forecast) => set({ forecast }), progress: () => undefined, model: () => undefined },
          );
          running = job;
          job.done.then(
            () => set({ phase: before }),
            (e: unknown) => {
              const cancelled = e instanceof TasteFailure && e.cancelled;
              set({ phase: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'Estimate cancelled; nothing was scored.' : e instanceof Error ? e.message : String(e) });
            },
          ).finally(() => {
            if (running === job) running = null;
          });
        },
        cancel() {
          running?.cancel();
        },
        removeRun(at) {
          const runs = get().runs.filter((r) => r.at !== at);
          set({ runs });
          saveRuns(runs);
        },
      };
    },
    {
      name: 'souplab.taste',
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ metric: s.metric, backend: s.backend, tasksSource: s.tasksSource }),
    },
  ),
);

/** Parsed task files for the list (kind, item counts, problems), without scoring. */
export function describeTasks(tasks: TaskText[]): { file: string; name: string; kind: string; count: number; problems: string[] }[] {
  return tasks.map((t) => {
    const f = parseTaskFile(t.file, t.text);
    return f.kind === 'multiple_choice'
      ? { file: t.file, name: f.name, kind: 'multiple choice', count: f.items.length, problems: f.problems }
      : { file: t.file, name: f.name, kind: 'perplexity', count: f.documents.length, problems: f.problems };
  });
}
