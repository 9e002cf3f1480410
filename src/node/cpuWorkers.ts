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

export interface NodeCpuBackendOptions {
  /** Worker threads; default: the number of cores the process may use. */
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
  const workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
  const script = opts.workerUrl ?? findCpuWorkerScript();
  const common = { workers, maxChunkElements: opts.maxChunkElements, minPartElements: opts.minPartElements };
  if (!script) {
    return createCpuSoupBackend({ ...common, workers: 1, spawn: inThreadSpawner, description: `CPU, in-thread (no ${WORKER_FILE} beside the bundle)` });
  }
  return createCpuSoupBackend({ ...common, spawn: nodeWorkerSpawner(script), programs: new ProgramPool(workers, nodeProgramSpawner(script)) });
}
