/**
 * The SIMD soup kernel working in place in a shared WebAssembly memory (an arena): the CPU backend's
 * slabs lie there, so that its workers compute without copying inputs in and results out. Checked
 * against the independent reference, and for never writing a byte outside the span's output.
 */
import { describe, expect, it } from 'vitest';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { computeSoupSpanAt } from '../../src/merge/cpu/fastKernel';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { bindSimdArena, createSharedArena, SIMD_ARENA_SCRATCH_BYTES, SIMD_BLOCK } from '../../src/merge/cpu/simdKernel';
import { KERNEL_DTYPE_BYTES, type KernelDtype, type SoupJob } from '../../src/merge/kernel';
import { firstDifference, independentSoup, makeJob } from './kernelTestData';

const CANARY = 0xa5;

describe('the SIMD kernel in place in a shared arena', () => {
  const cases: { mode: SoupJob['mode']; dtypes: KernelDtype[]; out: KernelDtype }[] = [];
  for (const out of ['BF16', 'F16', 'F32'] as const) {
    cases.push({ mode: 'linear', dtypes: ['BF16', 'BF16', 'BF16'], out });
    cases.push({ mode: 'linear', dtypes: ['BF16', 'F16', 'F32'], out });
    cases.push({ mode: 'delta', dtypes: ['BF16', 'BF16', 'F16'], out });
    cases.push({ mode: 'delta', dtypes: ['F32', 'BF16', 'F32'], out });
    cases.push({ mode: 'delta', dtypes: ['F16', 'F32', 'BF16'], out });
  }
  // Two whole blocks and a ragged end (not a multiple of 8 lanes), and spans shorter than 8 elements.
  const counts = [2 * SIMD_BLOCK + 13, 5, 8];

  cases.forEach(({ mode, dtypes, out }, k) => {
    it(`${mode} of ${dtypes.join('+')} → ${out}: bit-exact, and nothing written outside the output`, () => {
      const memory = createSharedArena(4 << 20);
      expect(memory, 'shared WebAssembly memories exist in Node 20').toBeDefined();
      const mem = new Uint8Array(memory!.buffer);
      expect(bindSimdArena(1000 + k, memory!, 0)).toBe(true);
      for (const count of counts) {
        const job = makeJob(mode, dtypes, out, count, 500 + k, { specials: 0.1, ties: 0.1 });
        mem.fill(CANARY, SIMD_ARENA_SCRATCH_BYTES);
        // Inputs, then the output, at odd addresses after the scratch, a gap of canaries between each.
        let at = SIMD_ARENA_SCRATCH_BYTES + 3;
        const regions: [number, number][] = [];
        const inputs = job.inputs.map((inp) => {
          const view = new Uint8Array(memory!.buffer, at, inp.bytes.length);
          view.set(inp.bytes);
          regions.push([at, inp.bytes.length]);
          at += inp.bytes.length + 5;
          return { dtype: inp.dtype, bytes: view };
        });
        const outBytes = count * KERNEL_DTYPE_BYTES[out];
        const output = new Uint8Array(memory!.buffer, at, outBytes);
        regions.push([at, outBytes]);
        computeSoupSpanAt({ mode, coefficients: job.coefficients, outDtype: out, count, inputs }, output, { arena: 1000 + k, inputs: inputs.map((v) => v.bytes.byteOffset), out: output.byteOffset });
        expect(firstDifference(output, independentSoup(job), KERNEL_DTYPE_BYTES[out]), `${count} elements: first element that differs`).toBe(-1);
        inputs.forEach((v, i) => expect(v.bytes, `input ${i} is read, not written`).toEqual(job.inputs[i].bytes));
        // The gaps: before the first region, between regions, and 64 bytes past the output.
        const gaps: [number, number][] = [];
        let from = SIMD_ARENA_SCRATCH_BYTES;
        for (const [s, n] of regions) {
          gaps.push([from, s]);
          from = s + n;
        }
        gaps.push([from, from + 64]);
        let stray = -1;
        for (const [a, b] of gaps) for (let p = a; p < b && stray < 0; p++) if (mem[p] !== CANARY) stray = p;
        expect(stray, `${count} elements: a byte outside the inputs and output changed`).toBe(-1);
      }
    });
  });

  it('falls back to copying where the arena is not the one bound (same results)', () => {
    const memory = createSharedArena(1 << 20)!;
    const job = makeJob('linear', ['BF16', 'BF16'], 'BF16', 1001, 77);
    const inputs = job.inputs.map((inp, i) => {
      const v = new Uint8Array(memory.buffer, SIMD_ARENA_SCRATCH_BYTES + i * 4096, inp.bytes.length);
      v.set(inp.bytes);
      return { dtype: inp.dtype, bytes: v };
    });
    const output = new Uint8Array(memory.buffer, SIMD_ARENA_SCRATCH_BYTES + 3 * 4096, 1001 * 2);
    computeSoupSpanAt({ mode: 'linear', coefficients: job.coefficients, outDtype: 'BF16', count: 1001, inputs }, output, { arena: -1, inputs: inputs.map((v) => v.bytes.byteOffset), out: output.byteOffset });
    expect(firstDifference(output, independentSoup(job), 2)).toBe(-1);
  });
});

describe("the CPU backend's slabs in its arena", () => {
  it('computes jobs laid out in its slabs in place, bit-exact, and lends the arena to one merge at a time', async () => {
    const backend = createCpuSoupBackend({ workers: 2, spawn: inThreadSpawner, minPartElements: 1024 });
    try {
      const lent = backend.sharedSlabs?.(1 << 20, 3);
      expect(lent?.slabs).toHaveLength(3);
      const slabs = lent!.slabs;
      const jobs = [makeJob('linear', ['BF16', 'BF16', 'BF16'], 'BF16', 40_001, 11, { specials: 0.05 }), makeJob('delta', ['F32', 'BF16', 'F16'], 'F32', 30_003, 12, { specials: 0.05 })];
      const results = await Promise.all(
        jobs.map((job, k) => {
          let o = 0;
          const inputs = job.inputs.map((inp) => {
            const v = slabs[k].subarray(o, o + inp.bytes.length);
            v.set(inp.bytes);
            o = Math.ceil((o + inp.bytes.length) / 8) * 8;
            return { dtype: inp.dtype, bytes: v };
          });
          const output = slabs[k].subarray(o, o + job.elementCount * KERNEL_DTYPE_BYTES[job.outDtype]);
          return backend.run({ ...job, inputs, output }).then((r) => ({ r, output }));
        }),
      );
      results.forEach(({ r, output }, k) => {
        expect(r, "the result is the slab's output view").toBe(output);
        expect(firstDifference(r, independentSoup(jobs[k]), KERNEL_DTYPE_BYTES[jobs[k].outDtype])).toBe(-1);
      });
      // While lent, another merge gets an arena of its own; once released, the next merge reuses it.
      const other = backend.sharedSlabs?.(1 << 20, 3);
      expect(other?.slabs[0].buffer).not.toBe(slabs[0].buffer);
      other?.release();
      lent!.release();
      expect(backend.sharedSlabs?.(1 << 20, 3)?.slabs[0].buffer).toBe(slabs[0].buffer);
    } finally {
      await backend.dispose();
    }
  });
});
