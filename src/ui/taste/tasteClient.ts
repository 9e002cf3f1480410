/** Starts the Taste worker and speaks its protocol; the page sees when it started, progress, and each model's scores. */
import type { FromTasteWorker, ModelResult, TasteProgress, TasteRequest } from './protocol';

export class TasteFailure extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

export interface RunningTaste {
  done: Promise<void>;
  cancel(): void;
}

export interface TasteListener {
  started(info: { backend: string; models: string[]; problems: string[] }): void;
  progress(p: TasteProgress): void;
  model(r: ModelResult): void;
}

export function startTaste(req: TasteRequest, on: TasteListener): RunningTaste {
  const worker = new Worker(new URL('./tasteWorker.ts', import.meta.url), { type: 'module', name: 'souplab-taste' });
  const done = new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FromTasteWorker>) => {
      const m = e.data;
      if (m.type === 'started') on.started(m);
      else if (m.type === 'progress') on.progress(m.progress);
      else if (m.type === 'model') on.model(m.result);
      else if (m.type === 'done') resolve();
      else reject(new TasteFailure(m.message, m.cancelled));
    };
    worker.onerror = (e) => reject(new TasteFailure(`The Taste worker failed: ${e.message || 'its script did not load'}`, false));
    worker.onmessageerror = () => reject(new TasteFailure('The Taste worker sent a message that could not be read', false));
  });
  const finished = done.finally(() => worker.terminate());
  finished.catch(() => undefined);
  worker.postMessage(req);
  return { done: finished, cancel: () => worker.postMessage({ type: 'cancel' }) };
}
