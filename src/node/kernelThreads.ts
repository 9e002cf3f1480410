/**
 * The fast CPU model's helper threads in Node: worker threads running the engine's kernel-thread
 * script (evaluated from its source: no file to find beside the bundle). Unref'd, so that they never
 * keep the process alive; they block in Atomics.wait between jobs.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { KernelThread, KernelThreadsOption } from '../model/cpu/kernelThreads';

/**
 * Default at most this many threads: each helper is a V8 isolate of a few MB (RSS counts against the
 * evaluator's 1.3 × the checkpoint), and beyond it a 0.5–1.5 B model's matmuls are split too thin.
 */
export const DEFAULT_MAX_KERNEL_THREADS = 16;

/** `count` threads in all (the calling one included); default: the cores this process may use, at most DEFAULT_MAX_KERNEL_THREADS. */
export function nodeKernelThreads(count: number = Math.min(DEFAULT_MAX_KERNEL_THREADS, availableParallelism())): KernelThreadsOption {
  return {
    count,
    spawn(source): KernelThread {
      const worker = new Worker(`${source}\nrequire('node:worker_threads').parentPort.once('message', kernelThread);`, { eval: true });
      worker.unref();
      return {
        start: (init) => worker.postMessage(init),
        terminate: () => void worker.terminate(),
      };
    },
  };
}
