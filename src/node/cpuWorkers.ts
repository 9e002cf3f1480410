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
import type { SoupWorkerPort, SoupWorkerResponse, WorkerSpawner } from '../merge/cpu/protocol';
import { inThreadSpawner } from '../merge/cpu/protocol';
import type { SoupBackend } from '../merge/kernel';
import { ProgramPool, type ProgramWorkerPort, type ProgramWorkerSpawner } from '../merge/cpu/programPool';
import type { ProgramWorkerResponse } from '../merge/cpu/programProtocol';

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

export function nodeWorkerSpawner(script: URL): WorkerSpawner {
  return (): SoupWorkerPort => {
    const worker = new Worker(script);
    worker.unref();
    return {
      post(req, transfer) {
        worker.postMessage(req, transfer);
      },
      listen(onResponse, onFailure) {
        worker.on('message', (r: SoupWorkerResponse) => onResponse(r));
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
  };
}

/** Program workers (programPool.ts) on the same script: it answers both kinds of message. */
export function nodeProgramSpawner(script: URL): ProgramWorkerSpawner {
  return (): ProgramWorkerPort => {
    const worker = new Worker(script);
    worker.unref();
    return {
      post(req) {
        worker.postMessage(req);
      },
      listen(onResponse, onFailure) {
        worker.on('message', (r: ProgramWorkerResponse) => onResponse(r));
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
  };
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
