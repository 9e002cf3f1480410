/**
 * The CPU soup backend on Node worker threads: soup jobs, and method tensors (one per worker, the
 * worker reading the input files itself). The worker script is the CLI bundle's
 * dist/node/cpuWorker.js, found beside the running bundle; when it is absent (tests running the
 * TypeScript sources) the kernel runs in-thread and the description says so.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createCpuSoupBackend } from '../merge/cpu/cpuBackend';
import type { SoupWorkerPort, SoupWorkerRequest, SoupWorkerResponse, WorkerSpawner } from '../merge/cpu/protocol';
import { inThreadSpawner } from '../merge/cpu/protocol';
import type { SoupBackend } from '../merge/kernel';
import { ProgramPool, type ProgramWorkerPort, type ProgramWorkerSpawner } from '../merge/cpu/programPool';
import type { ProgramWorkerRequest, ProgramWorkerResponse } from '../merge/cpu/programProtocol';

/**
 * The default number of worker threads when the machine has more cores. Every worker is a V8 isolate
 * with the kernel bundle and its buffers: peak RSS of a 3 × 226 MB BF16 linear merge here was 173 MB
 * with 1 worker, 251 MB with 8 and 339 MB with 16, and 1,071 MB on a 16-core machine (bench merge) —
 * while a streamed merge is bound by the disk and memory bandwidth well before 8 cores. `--threads`
 * sets more (or fewer).
 */
export const DEFAULT_MAX_CPU_WORKERS = 8;

export interface NodeCpuBackendOptions {
  /** Worker threads; default: the number of cores the process may use, at most DEFAULT_MAX_CPU_WORKERS. */
  workers?: number;
  /** The worker script; default: cpuWorker.js beside this bundle. */
  workerUrl?: URL;
  maxChunkElements?: number;
  minPartElements?: number;
}

const WORKER_FILE = 'cpuWorker.js';

/** cpuWorker.js beside the running bundle (dist/node/), or undefined when running from sources. */
export function findCpuWorkerScript(): URL | undefined {
  for (const rel of [`./${WORKER_FILE}`, `../${WORKER_FILE}`]) {
    const url = new URL(rel, import.meta.url);
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/** A worker thread on `script`, as either kind of port (soup jobs, programs): the script answers both. */
function workerPort<Request, Response>(script: URL): {
  post(req: Request, transfer?: ArrayBuffer[]): void;
  listen(onResponse: (r: Response) => void, onFailure: (e: Error) => void): void;
  setBusy(busy: boolean): void;
  terminate(): Promise<void>;
} {
  const worker = new Worker(script);
  worker.unref();
  return {
    post(req, transfer) {
      worker.postMessage(req, transfer);
    },
    listen(onResponse, onFailure) {
      worker.on('message', (r: Response) => onResponse(r));
      worker.on('error', (e: Error) => onFailure(e));
      worker.on('exit', (code) => {
        if (code !== 0) onFailure(new Error(`worker exited with code ${code}`));
      });
    },
    setBusy(busy) {
      if (busy) worker.ref();
      else worker.unref();
    },
    async terminate() {
      await worker.terminate();
    },
  };
}

export function nodeWorkerSpawner(script: URL): WorkerSpawner {
  return (): SoupWorkerPort => workerPort<SoupWorkerRequest, SoupWorkerResponse>(script);
}

/** Program workers (programPool.ts) on the same script. */
export function nodeProgramSpawner(script: URL): ProgramWorkerSpawner {
  return (): ProgramWorkerPort => workerPort<ProgramWorkerRequest, ProgramWorkerResponse>(script);
}

export function createNodeCpuBackend(opts: NodeCpuBackendOptions = {}): SoupBackend {
  const workers = Math.max(1, Math.floor(opts.workers ?? Math.min(DEFAULT_MAX_CPU_WORKERS, availableParallelism())));
  const script = opts.workerUrl ?? findCpuWorkerScript();
  const common = { workers, maxChunkElements: opts.maxChunkElements, minPartElements: opts.minPartElements };
  if (!script) {
    return createCpuSoupBackend({ ...common, workers: 1, spawn: inThreadSpawner, description: `CPU, in-thread (no ${WORKER_FILE} beside the bundle)` });
  }
  return createCpuSoupBackend({ ...common, spawn: nodeWorkerSpawner(script), programs: new ProgramPool(workers, nodeProgramSpawner(script)) });
}
