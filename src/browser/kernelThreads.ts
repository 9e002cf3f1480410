/**
 * The fast CPU model's helper threads in the browser: web workers running the engine's kernel-thread
 * script from a Blob URL (nothing to bundle). They share the model's WebAssembly memory, so the page
 * must be cross-origin isolated (the studio is); without SharedArrayBuffer the model runs on one thread.
 */
import type { KernelThread, KernelThreadsOption } from '../model/cpu/kernelThreads';

/** Threads for this machine: one per core (up to 8), the calling worker included. */
export function browserKernelThreadCount(): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
  return Math.max(1, Math.min(8, cores));
}

export function browserKernelThreads(count: number = browserKernelThreadCount()): KernelThreadsOption {
  return {
    count,
    spawn(source): KernelThread {
      const url = URL.createObjectURL(new Blob([`${source}\nself.onmessage = (e) => kernelThread(e.data);`], { type: 'text/javascript' }));
      const worker = new Worker(url, { name: 'souplab-cpu-model' });
      URL.revokeObjectURL(url);
      return {
        start: (init) => worker.postMessage(init),
        terminate: () => worker.terminate(),
      };
    },
  };
}
