/**
 * The fast CPU model's helper threads in Node: worker threads running the engine's kernel-thread
 * script (evaluated from its source: no file to find beside the bundle). Unref'd, so that they never
 * keep the process alive; they block in Atomics.wait between jobs.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { KernelThread, KernelThreadsOption } from '../model/cpu/kernelThreads';

/** `count` threads in all (the calling one included); default: the cores this process may use. */
export function nodeKernelThreads(count: number = availableParallelism()): KernelThreadsOption {
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
