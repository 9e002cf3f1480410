/**
 * The one engine entry that evaluates, for `souplab eval` and the studio's Taste alike: models (each a
 * WeightSource: a checkpoint as it is, or a recipe souped in memory by soupInMemory) scored on tasks
 * already encoded with their tokenizer. The first is loaded on the platform's backend; each next one
 * reloads its weights into it (tokens do not depend on the weights: encoded once, scored many times).
 * Progress per model and phase; cancel through the signal. The platforms differ only in how they open
 * the models and the task files, load the evaluator and show progress.
 */
import { throwIfAborted } from '../errors';
import type { CausalLM, ModelConfig, WeightSource } from '../model/types';
import { scoreTasks, type PreparedTask, type TaskResult } from './evaluate';

export interface EvaluatedModel {
  name: string;
  weights: WeightSource;
}

/** The evaluator's model as a platform loads it; evaluateModels disposes it at the end. */
export interface LoadedEvaluator {
  model: CausalLM;
  /** The backend in words ("CPU (WebAssembly SIMD, 2 threads)"). */
  description: string;
  dispose(): void | Promise<void>;
}

export interface EvaluationProgress {
  /** 0-based index of the model being loaded or scored. */
  index: number;
  model: string;
  phase: 'loading' | 'scoring';
  task: string;
  tokensDone: number;
  tokensTotal: number;
}

export interface ModelEvaluation {
  name: string;
  results: TaskResult[];
  /** Loading (or reloading) and scoring. */
  seconds: number;
}

export interface EvaluateModelsOptions {
  config: ModelConfig;
  tasks: PreparedTask[];
  models: EvaluatedModel[];
  createModel(config: ModelConfig, weights: WeightSource, signal?: AbortSignal): Promise<LoadedEvaluator>;
  /** Once the first model is loaded, before anything is scored (the CLI prices a long CPU evaluation here). */
  onLoaded?(lm: LoadedEvaluator): Promise<void> | void;
  onProgress?(p: EvaluationProgress): void;
  /** Each model's scores as soon as they are known. */
  onModel?(r: ModelEvaluation, index: number): void;
  signal?: AbortSignal;
}

export async function evaluateModels(o: EvaluateModelsOptions): Promise<ModelEvaluation[]> {
  const { signal } = o;
  let lm: LoadedEvaluator | undefined;
  const out: ModelEvaluation[] = [];
  try {
    for (const [index, m] of o.models.entries()) {
      throwIfAborted(signal);
      const started = performance.now();
      const progress = (phase: EvaluationProgress['phase'], task: string, tokensDone: number, tokensTotal: number) =>
        o.onProgress?.({ index, model: m.name, phase, task, tokensDone, tokensTotal });
      progress('loading', '', 0, 0);
      if (lm === undefined) {
        lm = await o.createModel(o.config, m.weights, signal);
        await o.onLoaded?.(lm);
      } else {
        await lm.model.reloadWeights(m.weights, { signal });
      }
      const results = await scoreTasks(lm.model, o.tasks, { signal, onProgress: (p) => progress('scoring', p.task, p.tokensDone, p.tokensTotal) });
      const r: ModelEvaluation = { name: m.name, results, seconds: (performance.now() - started) / 1000 };
      out.push(r);
      o.onModel?.(r, index);
    }
  } finally {
    await lm?.dispose();
  }
  return out;
}
