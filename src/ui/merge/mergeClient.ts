/** Starts the merge worker and speaks its protocol; the page only sees progress and a result. */
import type { MergeProgress } from '../../merge/runMerge';
import type { FromWorker, MergeDone, StartRequest } from './protocol';

export class MergeFailure extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

export interface RunningMerge {
  done: Promise<MergeDone>;
  cancel(): void;
}

export function startMerge(req: StartRequest, on: { progress(p: MergeProgress): void; backend(description: string): void }): RunningMerge {
  const worker = new Worker(new URL('./mergeWorker.ts', import.meta.url), { type: 'module', name: 'souplab-merge' });
  const done = new Promise<MergeDone>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'progress') on.progress(m.progress);
      else if (m.type === 'backend') on.backend(m.description);
      else if (m.type === 'done') resolve(m.done);
      else reject(new MergeFailure(m.message, m.cancelled));
    };
    worker.onerror = (e) => reject(new MergeFailure(`The merge worker failed: ${e.message || 'its script did not load'}`, false));
    worker.onmessageerror = () => reject(new MergeFailure('The merge worker sent a message that could not be read', false));
  });
  const finished = done.finally(() => worker.terminate());
  finished.catch(() => undefined);
  worker.postMessage(req);
  return {
    done: finished,
    cancel: () => worker.postMessage({ type: 'cancel' }),
  };
}
