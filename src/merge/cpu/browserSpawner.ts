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

export function createBrowserCpuBackend(opts: { workers?: number; maxChunkElements?: number } = {}): SoupBackend {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
  // Leave one core to the page's own thread, which reads and writes the files.
  const workers = opts.workers ?? Math.max(1, Math.min(8, cores - 1));
  return createCpuSoupBackend({ workers, spawn: webWorkerSpawner, maxChunkElements: opts.maxChunkElements, description: `CPU, ${workers} web worker${workers === 1 ? '' : 's'}` });
}
