/**
 * The studio's Taste worker: scores the soup and its ingredients off the main thread, through the
 * evaluation workers' shared host (one job per worker, cancel between scoring batches).
 */
import { serveOneJob, throttle } from '../evalWorker/host';
import type { FromTasteWorker, TasteProgress, TasteRequest } from './protocol';
import { estimateTasteJob, runTasteJob } from './tasteJob';

serveOneJob<TasteRequest, FromTasteWorker>(
  async (req, ctx) => {
    if (req.estimateOnly) {
      const createModel = (config: Parameters<typeof ctx.createModel>[1], weights: Parameters<typeof ctx.createModel>[2], signal?: AbortSignal) =>
        ctx.createModel(req.backend, config, weights, { name: req.soupName, signal });
      ctx.post({ type: 'forecast', forecast: await estimateTasteJob(req, { soupBackend: ctx.soupBackend, signal: ctx.signal, createModel }) });
      return { type: 'done' };
    }
    const post = throttle((p: TasteProgress) => ctx.post({ type: 'progress', progress: p }), 80);
    await runTasteJob(req, {
      soupBackend: ctx.soupBackend,
      signal: ctx.signal,
      // The model owns its device: the job disposes the model after the run.
      createModel: (config, weights, signal) => ctx.createModel(req.backend, config, weights, { name: req.soupName, signal }),
      onStart: (info) => ctx.post({ type: 'started', ...info }),
      onForecast: (forecast) => ctx.post({ type: 'forecast', forecast }),
      onProgress: (p) => post(p, p.phase !== 'scoring' || p.tokensDone >= p.tokensTotal),
      onModel: (result) => ctx.post({ type: 'model', result }),
    });
    return { type: 'done' };
  },
  (message, cancelled) => ({ type: 'failed', message, cancelled }),
  'Tasting cancelled; the models scored before it are kept.',
);
