/**
 * The page side shared by the studio's evaluation workers: starts a worker, sends the request, hands
 * every message but the last to `on`, and settles with the job's end ('done', or 'failed' as a
 * JobFailure that says whether it was a cancel). The worker is terminated afterwards.
 */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

export interface RunningJob<Done> {
  done: Promise<Done>;
  cancel(): void;
}

type Ending<Done> = { type: 'done' } & Done;
type Failed = { type: 'failed'; message: string; cancelled: boolean };

export function startJob<Req, Msg extends { type: string }, Done>(worker: Worker, what: string, req: Req, on: (m: Exclude<Msg, Failed | Ending<Done>>) => void): RunningJob<Done> {
  const done = new Promise<Done>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Msg | Failed | Ending<Done>>) => {
      const m = e.data;
      if (m.type === 'done') resolve(m as Ending<Done>);
      else if (m.type === 'failed') reject(new JobFailure((m as Failed).message, (m as Failed).cancelled));
      else on(m as Exclude<Msg, Failed | Ending<Done>>);
    };
    worker.onerror = (e) => reject(new JobFailure(`The ${what} worker failed: ${e.message || 'its script did not load'}`, false));
    worker.onmessageerror = () => reject(new JobFailure(`The ${what} worker sent a message that could not be read`, false));
  });
  const finished = done.finally(() => worker.terminate());
  finished.catch(() => undefined);
  worker.postMessage(req);
  return { done: finished, cancel: () => worker.postMessage({ type: 'cancel' }) };
}
