/** Messages between the studio page and its Search worker, and the settings a search is started with. */
import type { PlanForecast } from '../../eval/estimate';
import type { ChoiceMetric } from '../../eval/scores';
import type { SearchEvidence } from '../../search/evidence';
import type { SearchManifest } from '../../search/manifest';
import type { TrialRecord } from '../../search/runSearch';
import type { EvalBackend } from '../evalWorker/host';
import type { WorkerIngredient } from '../ingredients/types';
import type { TaskText } from '../taste/protocol';

export type PlanChoice = { kind: 'grid' | 'adaptive'; step: number } | { kind: 'list'; file: string; text: string };

/** The Search step's form, as a search was started with it (kept with the search's results). */
export interface SearchSettings {
  /** Ingredient names in the search, in the Ingredients view's order: the candidates. */
  models: string[];
  /** The plan's ingredients, among `models`. */
  experts: string[];
  plan: PlanChoice;
  /** Task file names (of the Taste step's tasks): one category each. */
  tasks: string[];
  metric: ChoiceMetric;
  splitSeed: number;
  /** Share of each task's items tuned on (1: no held-out split). */
  tuneShare: number;
  backend: EvalBackend;
  /** The output vocabulary when the models' tokenizers differ (the Ingredients view's choice); absent: rows as they are. */
  tokenizerSource?: 'union' | 'base';
}

export interface SearchRequest {
  type: 'start';
  /** Where the trials are kept (IndexedDB, src/browser/searchDb.ts): the hash of the manifest. */
  searchId: string;
  manifest: SearchManifest;
  settings: SearchSettings;
  /** The models, in settings.models order; recipe model paths are these names. */
  ingredients: WorkerIngredient[];
  tasks: TaskText[];
  /** Only the plan's time: the models opened, the evaluator loaded, a warm-up timed; nothing evaluated or stored. */
  estimateOnly?: boolean;
}

export interface SearchStarted {
  /** The engine's fit check: where the points are souped and why. */
  fit: string;
  where: 'gpu' | 'memory' | 'stream';
  backend: string;
  /** Items that could not be scored (the rest are). */
  problems: string[];
  /** Trials already in the store, reused without evaluation. */
  stored: number;
}

export type FromSearchWorker =
  | ({ type: 'started' } & SearchStarted)
  | { type: 'phase'; phase: 'baselines' | 'plan' | 'coalitions'; planned: number }
  | { type: 'trial'; record: TrialRecord; reused: boolean; done: number; planned: number; etaSeconds: number | undefined }
  | { type: 'scoring'; key: string; tokensDone: number; tokensTotal: number }
  | { type: 'forecast'; forecast: PlanForecast | null }
  | { type: 'evidence'; evidence: SearchEvidence }
  | { type: 'done'; evaluated: number; planPoints: number; evidence: SearchEvidence }
  | { type: 'done'; estimateOnly: true }
  | { type: 'failed'; message: string; cancelled: boolean };
