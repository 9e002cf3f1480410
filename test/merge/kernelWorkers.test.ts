import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuWorkerError } from '../../src/merge/cpu/cpuBackend';
import { KERNEL_DTYPE_BYTES, type KernelDtype } from '../../src/merge/kernel';
import { createNodeCpuBackend, findCpuWorkerScript } from '../../src/node/cpuWorkers';
import { buildCpuWorker } from './cpuWorkerBuild';
import { firstDifference, independentSoup, makeJob } from './kernelTestData';

let dir: string;
let workerUrl: URL;
let remove: () => void;

beforeAll(async () => {
  ({ url: workerUrl, dir, remove } = await buildCpuWorker());
}, 120_000);

afterAll(() => remove());

describe('CPU backend on real Node worker threads (the bundled cpuWorker.js)', () => {
  it('gives results bit-exact to the independent reference, jobs split over two workers, concurrently', async () => {
    const backend = createNodeCpuBackend({ workers: 2, workerUrl, minPartElements: 4096 });
    try {
      expect(backend.description).toBe('CPU, 2 worker threads');
      const dtypes: KernelDtype[][] = [['BF16', 'BF16', 'BF16'], ['F32', 'F16', 'BF16'], ['BF16', 'F16', 'F32', 'BF16', 'F16', 'BF16', 'F32', 'BF16', 'BF16']];
      const jobs = dtypes.flatMap((d, k) => [makeJob('linear', d, (['BF16', 'F16', 'F32'] as const)[k], 50_001 + k, 100 + k, { specials: 0.05, ties: 0.1 }), makeJob('delta', d, 'BF16', 33_333, 200 + k, { specials: 0.05 })]);
      const outs = await Promise.all(jobs.map((j) => backend.run(j)));
      jobs.forEach((j, k) => expect(firstDifference(outs[k], independentSoup(j), KERNEL_DTYPE_BYTES[j.outDtype]), `job ${k}`).toBe(-1));
    } finally {
      await backend.dispose();
    }
  });

  it('works in shared memory in place: inputs and output in SharedArrayBuffers, split over two workers, bit-exact', async () => {
    const backend = createNodeCpuBackend({ workers: 2, workerUrl, minPartElements: 4096 });
    const toShared = (bytes: Uint8Array, pad: number) => {
      const view = new Uint8Array(new SharedArrayBuffer(bytes.length + pad), pad, bytes.length);
      view.set(bytes);
      return view;
    };
    try {
      const jobs = [makeJob('linear', ['BF16', 'F16', 'F32'], 'BF16', 40_003, 300, { specials: 0.05, ties: 0.1 }), makeJob('delta', ['BF16', 'BF16', 'BF16'], 'F32', 25_000, 301, { specials: 0.05 })];
      const shared = jobs.map((j, k) => ({
        ...j,
        // Odd offsets in the slabs: the kernel copes with unaligned views.
        inputs: j.inputs.map((inp, i) => ({ ...inp, bytes: toShared(inp.bytes, 8 * i + k + 1) })),
        output: toShared(new Uint8Array(j.elementCount * KERNEL_DTYPE_BYTES[j.outDtype]), 3),
      }));
      const outs = await Promise.all(shared.map((j) => backend.run(j)));
      shared.forEach((j, k) => {
        expect(outs[k], 'the result is the offered output, written in place').toBe(j.output);
        expect(firstDifference(outs[k], independentSoup(jobs[k]), KERNEL_DTYPE_BYTES[j.outDtype]), `job ${k}`).toBe(-1);
      });
    } finally {
      await backend.dispose();
    }
  });

  it("computes in place in the backend's arena (a shared WebAssembly memory sent to each worker), bit-exact", async () => {
    const backend = createNodeCpuBackend({ workers: 2, workerUrl, minPartElements: 4096 });
    try {
      const jobs = [makeJob('linear', ['BF16', 'BF16', 'BF16'], 'BF16', 60_007, 400, { specials: 0.05, ties: 0.1 }), makeJob('delta', ['BF16', 'F16', 'F32'], 'F16', 30_001, 401, { specials: 0.05 })];
      // Twice over the same arena: the second merge reuses it, bound once per worker.
      for (let round = 0; round < 2; round++) {
        const lent = backend.sharedSlabs?.(1 << 20, jobs.length);
        expect(lent?.slabs).toHaveLength(jobs.length);
        const laid = jobs.map((j, k) => {
          const slab = lent!.slabs[k];
          let o = 0;
          const inputs = j.inputs.map((inp) => {
            const bytes = slab.subarray(o, o + inp.bytes.length);
            bytes.set(inp.bytes);
            o = Math.ceil((o + inp.bytes.length) / 8) * 8;
            return { ...inp, bytes };
          });
          return { ...j, inputs, output: slab.subarray(o, o + j.elementCount * KERNEL_DTYPE_BYTES[j.outDtype]) };
        });
        const outs = await Promise.all(laid.map((j) => backend.run(j)));
        laid.forEach((j, k) => {
          expect(outs[k]).toBe(j.output);
          expect(firstDifference(outs[k], independentSoup(jobs[k]), KERNEL_DTYPE_BYTES[j.outDtype]), `round ${round}, job ${k}`).toBe(-1);
        });
        lent!.release();
      }
    } finally {
      await backend.dispose();
    }
  });

  it('reports a worker that cannot start as CpuWorkerError instead of hanging', async () => {
    const broken = join(dir, 'broken.js');
    writeFileSync(broken, "throw new Error('boom at load');\n");
    const backend = createNodeCpuBackend({ workers: 1, workerUrl: pathToFileURL(broken) });
    try {
      await expect(backend.run(makeJob('linear', ['BF16'], 'BF16', 10, 1))).rejects.toThrow(CpuWorkerError);
    } finally {
      await backend.dispose();
    }
  });

  it('runs in-thread, and says so, where no bundled worker exists (running from sources)', async () => {
    expect(findCpuWorkerScript()).toBeUndefined();
    const backend = createNodeCpuBackend({ workers: 2 });
    expect(backend.description).toMatch(/in-thread/);
    const job = makeJob('linear', ['BF16', 'F16'], 'BF16', 1001, 9, { specials: 0.1 });
    expect(firstDifference(await backend.run(job), independentSoup(job), 2)).toBe(-1);
    await backend.dispose();
  });
});
