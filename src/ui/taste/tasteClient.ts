/** Starts the Taste worker and speaks its protocol; the page sees when it started, progress, and each model's scores. */
import type { PlanForecast } from '../../eval/estimate';
import { JobFailure, startJob, type RunningJob } from '../evalWorker/client';
import type { FromTasteWorker, ModelResult, TasteProgress, TasteRequest } from './protocol';

export { JobFailure as TasteFailure };

export type RunningTaste = RunningJob<unknown>;

export interface TasteListener {
  started(info: { backend: string; models: string[]; problems: string[] }): void;
  forecast(f: PlanForecast): void;
  progress(p: TasteProgress): void;
  model(r: ModelResult): void;
}

export function startTaste(req: TasteRequest, on: TasteListener): RunningTaste {
  const worker = new Worker(new URL('./tasteWorker.ts', import.meta.url), { type: 'module', name: 'souplab-taste' });
  return startJob<TasteRequest, FromTasteWorker, unknown>(worker, 'Taste', req, (m) => {
    if (m.type === 'started') on.started(m);
    else if (m.type === 'forecast') on.forecast(m.forecast);
    else if (m.type === 'progress') on.progress(m.progress);
    else if (m.type === 'model') on.model(m.result);
  });
}
