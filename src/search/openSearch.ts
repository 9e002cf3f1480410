/**
 * The one engine entry of the in-memory search, for `souplab search` and the studio's Search worker alike:
 * the opened models → their vocabularies aligned (searchVocabulary.ts) → pre-flight → the tasks encoded
 * with the soup's tokenizer → the evaluator loaded → the fit check (fitLoader.ts) → runSearch over the
 * platform's TrialStore. The platforms differ only in how they open files, encode task files (their own
 * messages) and load the evaluator, where trials are kept and how progress is shown.
 *
 * In two steps, so that a platform can say what it found (the fit, the problems of the task files, a
 * priced plan) and open its results before the first point: openSearch, then session.run; dispose at the end.
 */
import type { PreparedTask } from '../eval/evaluate';
import type { Checkpoint } from '../formats/checkpoint';
import type { SoupBackend } from '../merge/kernel';
import type { ModelConfig, WeightSource } from '../model/types';
import { fitSoupLoader, type FitLoaderOptions, type FittedLoader } from './fitLoader';
import { uniformOf } from './points';
import { runSearch, type RunSearchOptions, type SearchOutcome } from './runSearch';
import { alignSearchModels, type VocabularySetting } from './searchVocabulary';
import { planPoint, soupPoint, type PlannedModel } from './soupLoader';

/** The evaluator's model as a platform loads it; the session disposes it. */
export type SearchEvaluatorModel = FitLoaderOptions['lm'] & { dispose(): void | Promise<void> };

export interface OpenSearchOptions {
  /** The search's models, opened by the platform, in the search's order. */
  models: PlannedModel[];
  /** The output vocabulary when the models' tokenizers differ: a tokenizer_source (union, base or a model's name) or a tokenizer: block. */
  vocabulary?: VocabularySetting;
  /** Encodes the task files with the tokenizer of `reference` (the first model, its vocabulary aligned); throws when nothing is left to score. */
  prepareTasks(reference: { label: string; checkpoint: Checkpoint }): Promise<{ config: ModelConfig; tasks: PreparedTask[]; problems: string[] }>;
  soupBackend: SoupBackend;
  /** Loads the evaluator with the given weights (with `gpu` on WebGPU, to soup into its weight buffers). */
  createModel(config: ModelConfig, weights: WeightSource, signal?: AbortSignal): Promise<SearchEvaluatorModel>;
  fit: Pick<FitLoaderOptions, 'memoryBudget' | 'stream' | 'gpuMemoryBudget' | 'bytes' | 'say'>;
  signal?: AbortSignal;
}

export interface SearchSession {
  /** The models as the points are souped from them (rows aligned when a tokenizer source is set). */
  models: PlannedModel[];
  /** How the vocabularies differ, when a tokenizer source is set (one line per model, one for the output), and notes. */
  vocabulary: { lines: string[]; notes: string[] };
  config: ModelConfig;
  tasks: PreparedTask[];
  problems: string[];
  lm: SearchEvaluatorModel;
  fitted: FittedLoader;
  run(o: Omit<RunSearchOptions, 'tasks' | 'model' | 'loader' | 'evaluator'>): Promise<SearchOutcome>;
  dispose(): Promise<void>;
}

/** Throws the pre-flight's PreflightError when the models do not fit together (nothing loaded then). */
export async function openSearch(o: OpenSearchOptions): Promise<SearchSession> {
  const aligned = await alignSearchModels(o.models, o.vocabulary);
  const { models } = aligned;
  // Pre-flight: every model against the first, from the headers alone, before anything is loaded.
  planPoint(models, uniformOf([...models.keys()], models.length));
  const { config, tasks, problems } = await o.prepareTasks({ label: models[0].name, checkpoint: models[0].checkpoint });
  // The evaluator's model, loaded with the first model's weights (the soup of it alone).
  const lm = await o.createModel(config, await soupPoint(models, uniformOf([0], models.length), o.soupBackend), o.signal);
  let fitted: FittedLoader;
  try {
    fitted = await fitSoupLoader({ ...o.fit, models, lm, soupBackend: o.soupBackend, signal: o.signal });
  } catch (e) {
    await lm.dispose();
    throw e;
  }
  return {
    models,
    vocabulary: { lines: aligned.lines, notes: aligned.notes },
    config,
    tasks,
    problems,
    lm,
    fitted,
    run: (r) => runSearch({ ...r, tasks, model: lm.model, loader: fitted.loader }),
    async dispose() {
      fitted.gpuIngredients?.dispose();
      await lm.dispose();
    },
  };
}
