/**
 * The studio's Search worker: runs one search (searchJob) through the evaluation workers' shared host,
 * keeping every finished trial in IndexedDB (src/browser/searchDb.ts) before the page hears of it, and
 * the search's state and evidence beside them: a reload, a closed tab or a crash loses at most the
 * point being evaluated, and the next start with the same models, tasks and split resumes.
 */
import { browserMemoryBudget } from '../../browser/memory';
import { getSearch, idbTrialStore, putSearch, updateSearch, type StoredSearchState } from '../../browser/searchDb';
import { serveOneJob, throttle, type JobContext } from '../evalWorker/host';
import type { FromSearchWorker, SearchRequest, SearchSettings } from './protocol';
import { estimateSearchJob, runSearchJob, type SearchJobDeps } from './searchJob';
import { searchStopMessage } from './stopMessage';

const CANCELLED = 'Search cancelled; every finished point is kept. Start it again to resume.';
/** The failure as the page reads it (made before the host words it: it counts the points kept). */
let stopped: string | undefined;

serveOneJob<SearchRequest, FromSearchWorker>(
  async (req, ctx) => {
    if (req.estimateOnly) return estimate(req, ctx);
    const id = req.searchId;
    const now = Date.now();
    const old = await getSearch<SearchSettings>(id);
    await putSearch<SearchSettings>({
      id,
      manifest: req.manifest,
      settings: req.settings,
      state: 'running',
      message: null,
      planned: old?.planned ?? 0,
      evidence: old?.evidence ?? null,
      loader: old?.loader ?? null,
      backend: old?.backend ?? null,
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    });
    const scoring = throttle((m: FromSearchWorker) => ctx.post(m), 100);
    const end = (state: StoredSearchState, message: string | null) => updateSearch(id, { state, message }).catch(() => undefined);
    try {
      const { outcome, evidence } = await runSearchJob(req, {
        ...evaluator(req, ctx),
        store: idbTrialStore(id),
        signal: ctx.signal,
        onStarted: (info) => {
          void updateSearch(id, { loader: info.fit, backend: info.backend }).catch(() => undefined);
          ctx.post({ type: 'started', ...info });
        },
        onForecast: (forecast) => ctx.post({ type: 'forecast', forecast }),
        onEvent: (e) => {
          if (e.type === 'scoring') scoring({ ...e }, e.tokensDone >= e.tokensTotal);
          else {
            if (e.type === 'trial' || e.type === 'phase') void updateSearch(id, { planned: e.planned }).catch(() => undefined);
            ctx.post({ ...e });
          }
        },
        onEvidence: (evidence) => {
          void updateSearch(id, { evidence }).catch(() => undefined);
          ctx.post({ type: 'evidence', evidence });
        },
      });
      await updateSearch(id, { state: 'done', message: null, evidence });
      return { type: 'done', evaluated: outcome.evaluated, planPoints: outcome.planPoints, evidence };
    } catch (e) {
      // The state is kept here so that a reload shows why it stopped, and how many points are kept.
      if (!ctx.signal.aborted) stopped = searchStopMessage(e, (await idbTrialStore(id).load().catch(() => [])).length);
      await end(ctx.signal.aborted ? 'cancelled' : 'failed', ctx.signal.aborted ? CANCELLED : (stopped ?? null));
      throw e;
    }
  },
  (message, cancelled) => ({ type: 'failed', message: cancelled ? message : (stopped ?? message), cancelled }),
  CANCELLED,
);

/** The soup backend and the evaluator of the page's choice (the GPU model on a device of its own). */
function evaluator(req: SearchRequest, ctx: JobContext<FromSearchWorker>): Pick<SearchJobDeps, 'soupBackend' | 'createModel' | 'memoryBudget'> {
  return {
    soupBackend: ctx.soupBackend,
    createModel: async (config, weights, signal) => ctx.createModel(req.settings.backend, config, weights, { name: 'soup', signal, ownDevice: true }),
    memoryBudget: browserMemoryBudget(),
  };
}

/** Only the plan's time: the stored trials read (the points left are priced), nothing evaluated or written. */
async function estimate(req: SearchRequest, ctx: JobContext<FromSearchWorker>): Promise<FromSearchWorker> {
  const forecast = await estimateSearchJob(req, { ...evaluator(req, ctx), stored: idbTrialStore(req.searchId), signal: ctx.signal });
  ctx.post({ type: 'forecast', forecast });
  return { type: 'done', estimateOnly: true };
}
