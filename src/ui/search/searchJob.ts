/**
 * One search as the studio runs it, inside the Search worker: the ingredients opened from their files,
 * then the engine's openSearch (pre-flight, the tasks encoded once, the evaluator loaded, the fit check)
 * and its run over the given TrialStore, with the evidence (src/search/evidence.ts) recomputed as trials arrive. Free of worker plumbing so that Node
 * tests run it.
 */
import { InputError, throwIfAborted } from '../../errors';
import type { PreparedTask } from '../../eval/evaluate';
import type { Checkpoint } from '../../formats/checkpoint';
import type { SoupBackend } from '../../merge/kernel';
import { PreflightError } from '../../merge/preflight';
import type { ModelConfig, WeightSource } from '../../model/types';
import { planKeysOf, searchEvidence, type SearchEvidence } from '../../search/evidence';
import type { FitLoaderOptions } from '../../search/fitLoader';
import { listPoints } from '../../search/points';
import { defaultShapleyPlayers, type SearchEvent, type SearchOutcome, type SearchPlan, type SearchSpec, type TrialRecord, type TrialStore } from '../../search/runSearch';
import type { PlannedModel } from '../../search/soupLoader';
import { openSearch, type SearchSession } from '../../search/openSearch';
import { forecastSearch } from '../../search/planSize';
import type { PlanForecast } from '../../eval/estimate';
import { prepareEvaluation } from '../evalWorker/prepare';
import { formatBytes } from '../ingredients/format';
import { openInput } from '../ingredients/openIngredient';
import type { SearchRequest, SearchSettings, SearchStarted } from './protocol';

export interface SearchJobDeps {
  soupBackend: SoupBackend;
  /** Loads the evaluator (with `gpu` on WebGPU, to soup into its weight buffers); the job disposes it. */
  createModel(config: ModelConfig, weights: WeightSource, signal?: AbortSignal): Promise<FitLoaderOptions['lm'] & { dispose(): void }>;
  store: TrialStore;
  /** Bytes the page can give to hold the models in memory. */
  memoryBudget: number;
  signal?: AbortSignal;
  onStarted?(info: SearchStarted): void;
  /** Given: the plan's time is measured (a short warm-up) and told before the first point. */
  onForecast?(f: PlanForecast | null): void;
  onEvent?(e: SearchEvent): void;
  /** The evidence after each newly evaluated trial. */
  onEvidence?(e: SearchEvidence): void;
}

export interface SearchJobResult {
  outcome: SearchOutcome;
  evidence: SearchEvidence;
}

/** The engine's spec of the studio's settings (names → indices into settings.models). */
export function specOf(settings: SearchSettings): SearchSpec {
  const { models } = settings;
  const experts = settings.experts.map((e) => {
    const i = models.indexOf(e);
    if (i < 0) throw new InputError(`the expert ${e} is not among the models of the search (${models.join(', ')})`);
    return i;
  });
  if (experts.length === 0) throw new InputError('Choose at least one expert: the plan weighs the experts.');
  const p = settings.plan;
  const plan: SearchPlan = p.kind === 'list' ? { kind: 'list', points: listPoints(p.file, p.text, models) } : p;
  return { models, experts, plan, metric: settings.metric, splitSeed: settings.splitSeed, tuneShare: settings.tuneShare };
}

/** The evidence of a search's trials (also of a stopped one: its plan points are known by their kinds). */
export function evidenceOf(trials: TrialRecord[], spec: SearchSpec, players: number[], tasks: PreparedTask[]): SearchEvidence {
  return searchEvidence(trials, spec.models, spec.experts, planKeysOf(trials, spec), players, tasks);
}

/**
 * Opens the search of `req` (its ingredients from their files, then the engine's openSearch), hands the
 * session to `work`, and closes everything after, whatever `work` does.
 */
async function withSearchSession<T>(
  req: Pick<SearchRequest, 'settings' | 'ingredients' | 'tasks'>,
  deps: Pick<SearchJobDeps, 'soupBackend' | 'createModel' | 'memoryBudget' | 'signal'>,
  work: (session: SearchSession, spec: SearchSpec) => Promise<T>,
): Promise<T> {
  const { settings } = req;
  const { signal } = deps;
  const spec = specOf(settings);
  if (req.ingredients.map((i) => i.name).join('\n') !== settings.models.join('\n')) throw new InputError('the ingredients sent do not match the models of the search');
  const opened: Checkpoint[] = [];
  let session: SearchSession | undefined;
  try {
    for (const input of req.ingredients) {
      throwIfAborted(signal);
      opened.push(await openInput(input));
    }
    const models: PlannedModel[] = req.ingredients.map((input, i) => ({ name: input.name, path: input.name, checkpoint: opened[i] }));
    try {
      session = await openSearch({
        models,
        vocabulary: { tokenizerSource: settings.tokenizerSource },
        prepareTasks: (reference) => prepareEvaluation(reference, req.tasks, 'Choose task files to score the soups on (the Taste step holds them).'),
        soupBackend: deps.soupBackend,
        createModel: deps.createModel,
        fit: { memoryBudget: deps.memoryBudget, bytes: formatBytes, say: () => undefined },
        signal,
      });
    } catch (e) {
      if (e instanceof PreflightError) {
        const errors = e.report.errors;
        throw new InputError(`The models do not fit together; nothing was evaluated:\n${errors.slice(0, 10).map((x) => x.message).join('\n')}${errors.length > 10 ? `\n… and ${errors.length - 10} more` : ''}`);
      }
      throw e;
    }
    return await work(session, spec);
  } finally {
    await session?.dispose();
    await Promise.all(opened.map((c) => (c as Checkpoint & { close?: () => Promise<void> }).close?.().catch(() => undefined)));
  }
}

export async function runSearchJob(req: Pick<SearchRequest, 'settings' | 'ingredients' | 'tasks'>, deps: SearchJobDeps): Promise<SearchJobResult> {
  const { signal } = deps;
  return withSearchSession(req, deps, async (session, spec) => {
    const { tasks, problems, fitted, lm } = session;
    // The store read once (IndexedDB in the studio): what is kept, and the trials the evidence starts from.
    const kept = await deps.store.load();
    deps.onStarted?.({ fit: fitted.line, where: fitted.where, backend: lm.description, problems, stored: kept.length });

    const trials = new Map<string, TrialRecord>(kept.map((t) => [t.key, t]));
    if (deps.onForecast) deps.onForecast(await forecastSearch(spec, tasks, lm, new Set(trials.keys()), { surface: 'studio-search', signal }));
    const players = defaultShapleyPlayers(spec);
    const outcome = await session.run({
      spec,
      store: deps.store,
      signal,
      onEvent: (e) => {
        deps.onEvent?.(e);
        if (e.type === 'trial' && !e.reused) {
          trials.set(e.record.key, e.record);
          deps.onEvidence?.(evidenceOf([...trials.values()], spec, players, tasks));
        }
      },
    });
    return { outcome, evidence: evidenceOf(outcome.trials, spec, outcome.shapleyPlayers, tasks) };
  });
}

/**
 * The plan's time as runSearchJob would tell it before its first point (the points `stored` lacks),
 * from a warm-up of the loaded evaluator: nothing is evaluated or stored. Null: nothing left to evaluate.
 */
export async function estimateSearchJob(
  req: Pick<SearchRequest, 'settings' | 'ingredients' | 'tasks'>,
  deps: Pick<SearchJobDeps, 'soupBackend' | 'createModel' | 'memoryBudget' | 'signal'> & { stored: Pick<TrialStore, 'load'> },
): Promise<PlanForecast | null> {
  return withSearchSession(req, deps, async (session, spec) =>
    forecastSearch(spec, session.tasks, session.lm, new Set((await deps.stored.load()).map((t) => t.key)), { surface: 'studio-search', signal: deps.signal }),
  );
}
