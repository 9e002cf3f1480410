/** Starts the merge worker and speaks its protocol; the page only sees progress and a result. */
import type { MergeProgress } from '../../merge/runMerge';
import type { BackendChoice, FromWorker, MergeDone, StartRequest, WarmRequest } from './protocol';

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

const spawnMergeWorker = (): Worker => new Worker(new URL('./mergeWorker.ts', import.meta.url), { type: 'module', name: 'souplab-merge' });

/**
 * A merge worker started before the click: its script loaded, its CPU backend's workers started and
 * their kernel compiled. Measured (bench studio, 3 × 319 MB, timestamps in the worker): the merge began
 * 0.11–0.15 s after the click with a worker started then, 0.05–0.06 s with a prepared one.
 */
let prepared: { worker: Worker; backend: BackendChoice } | undefined;

/** Starts the next merge's worker ahead, for `backend`; does nothing when one is ready for it. */
export function prepareMerge(backend: BackendChoice): void {
  if (prepared?.backend === backend) return;
  discardPreparedMerge();
  const worker = spawnMergeWorker();
  const mine = { worker, backend };
  // A worker whose script failed to load is dropped (startMerge then starts one and reports why).
  worker.onerror = () => {
    if (prepared === mine) discardPreparedMerge();
  };
  worker.postMessage({ type: 'warm', backend } satisfies WarmRequest);
  prepared = mine;
}

/** Ends the prepared worker (and its CPU workers), e.g. when the Merge view closes. */
export function discardPreparedMerge(): void {
  prepared?.worker.terminate();
  prepared = undefined;
}

export function startMerge(req: StartRequest, on: { progress(p: MergeProgress): void; backend(description: string): void }): RunningMerge {
  // The prepared worker when there is one (made for another backend, it replaces its backend itself).
  const worker = prepared?.worker ?? spawnMergeWorker();
  prepared = undefined;
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
