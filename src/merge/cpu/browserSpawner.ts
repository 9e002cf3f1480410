/** The CPU soup backend on web workers (module workers bundled by Vite). */
import type { SoupBackend } from '../kernel';
import { createCpuSoupBackend } from './cpuBackend';
import type { SoupWorkerPort, SoupWorkerResponse, WorkerSpawner } from './protocol';

export const webWorkerSpawner: WorkerSpawner = (): SoupWorkerPort => {
  const worker = new Worker(new URL('./soupWorker.ts', import.meta.url), { type: 'module', name: 'souplab-cpu-merge' });
  return {
    post(req, transfer) {
      worker.postMessage(req, transfer);
    },
    listen(onResponse, onFailure) {
      worker.onmessage = (e: MessageEvent<SoupWorkerResponse>) => onResponse(e.data);
      worker.onerror = (e: ErrorEvent) => onFailure(new Error(e.message || 'the worker script failed to load'));
      worker.onmessageerror = () => onFailure(new Error('a message could not be decoded'));
    },
    async terminate() {
      worker.terminate();
    },
  };
};

/**
 * Soup workers for this machine: one per core (up to 8). The merge worker that reads and writes the
 * files mostly waits on the browser's file I/O, so it needs no core of its own (one worker on two
 * cores left one idle: the studio merged at half the CLI's pace).
 */
export function browserCpuWorkers(): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
  return Math.max(1, Math.min(8, cores));
}

export function createBrowserCpuBackend(opts: { workers?: number; maxChunkElements?: number } = {}): SoupBackend {
  const workers = opts.workers ?? browserCpuWorkers();
  return createCpuSoupBackend({ workers, spawn: webWorkerSpawner, maxChunkElements: opts.maxChunkElements, description: `CPU, ${workers} web worker${workers === 1 ? '' : 's'}` });
}
