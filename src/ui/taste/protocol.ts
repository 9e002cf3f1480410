/** Messages between the studio page and its Taste worker (structured clone: Files and handles travel as they are). */
import type { PlanForecast } from '../../eval/estimate';
import type { TaskResult } from '../../eval/evaluate';
import type { WorkerIngredient } from '../ingredients/types';

export type TasteBackend = 'webgpu' | 'cpu';

/** A task file as text (task files are small: items, not weights). */
export interface TaskText {
  file: string;
  text: string;
}

export interface TasteRequest {
  type: 'start';
  /** The soup's ingredients; recipe model paths are these names. */
  ingredients: WorkerIngredient[];
  recipeYaml: string;
  tasks: TaskText[];
  backend: TasteBackend;
  /** How the soup is named in the results. */
  soupName: string;
  /** Only the run's time: the evaluator loaded, a warm-up timed (a forecast message); nothing scored. */
  estimateOnly?: boolean;
}

export type ToTasteWorker = TasteRequest | { type: 'cancel' };

/** One model evaluated: the soup (souped in memory) or one ingredient as it is. */
export interface ModelResult {
  model: string;
  role: 'soup' | 'ingredient';
  results: TaskResult[];
  seconds: number;
}

export interface TasteProgress {
  /** 0-based index of the model being loaded or scored, of `models`. */
  modelIndex: number;
  models: number;
  model: string;
  phase: 'loading' | 'scoring';
  task: string;
  tokensDone: number;
  tokensTotal: number;
}

export type FromTasteWorker =
  | { type: 'started'; backend: string; models: string[]; problems: string[] }
  | { type: 'forecast'; forecast: PlanForecast }
  | { type: 'progress'; progress: TasteProgress }
  | { type: 'model'; result: ModelResult }
  | { type: 'done' }
  | { type: 'failed'; message: string; cancelled: boolean };
