import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { computeSoupSpan } from '../../src/merge/cpu/fastKernel';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { simdApplies, simdAvailable } from '../../src/merge/cpu/simdKernel';
import { runSoupJobReference, KERNEL_DTYPE_BYTES, type KernelDtype, type SoupJob } from '../../src/merge/kernel';
import { InputError } from '../../src/errors';
import { firstDifference, independentSoup, makeJob, valueToBf16Bits, valueToF16Bits } from './kernelTestData';

const DTYPES: KernelDtype[] = ['F32', 'F16', 'BF16'];

/** The fast kernel: WebAssembly SIMD where the job allows it (F32/BF16 only), else JavaScript. */
function fast(job: SoupJob, simd = true): Uint8Array {
  const out = new Uint8Array(job.elementCount * KERNEL_DTYPE_BYTES[job.outDtype]);
  computeSoupSpan({ ...job, count: job.elementCount }, out, { simd });
  return out;
}

function expectSame(actual: Uint8Array, expected: Uint8Array, job: SoupJob, what: string): void {
  const size = KERNEL_DTYPE_BYTES[job.outDtype];
  const d = firstDifference(actual, expected, size);
  if (d >= 0) {
    const hex = (a: Uint8Array) => Array.from(a.subarray(d * size, d * size + size)).reverse().map((b) => b.toString(16).padStart(2, '0')).join('');
    const inputs = job.inputs.map((inp) => `${inp.dtype}:${Array.from(inp.bytes.subarray(d * KERNEL_DTYPE_BYTES[inp.dtype], (d + 1) * KERNEL_DTYPE_BYTES[inp.dtype])).reverse().map((b) => b.toString(16).padStart(2, '0')).join('')}`);
    expect.fail(`${what}: element ${d}: got ${hex(actual)}, expected ${hex(expected)}; inputs ${inputs.join(' ')}; c=${Array.from(job.coefficients).join(',')}`);
  }
}

describe('the independent reference itself', () => {
  it('rounds known values to bf16 and f16 as IEEE says', () => {
    expect(valueToBf16Bits(1)).toBe(0x3f80);
    expect(valueToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(valueToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(valueToBf16Bits(-(2 ** -133))).toBe(0x8001); // smallest subnormal
    expect(valueToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds to Inf in bf16
    expect(valueToF16Bits(65519)).toBe(0x7bff);
    expect(valueToF16Bits(65520)).toBe(0x7c00);
    expect(valueToF16Bits(2 ** -24)).toBe(1);
    expect(valueToF16Bits(2 ** -25)).toBe(0);
    expect(valueToF16Bits(3 * 2 ** -25)).toBe(2);
    expect(valueToF16Bits(-0)).toBe(0x8000);
  });
});

describe('CPU soup kernels are bit-exact to fp32 accumulation in order with one rounding', () => {
  const cases: { mode: SoupJob['mode']; dtypes: KernelDtype[]; out: KernelDtype }[] = [];
  for (const out of DTYPES) {
    for (const d of DTYPES) cases.push({ mode: 'linear', dtypes: [d, d, d], out });
    cases.push({ mode: 'linear', dtypes: ['BF16', 'F16', 'F32'], out });
    cases.push({ mode: 'delta', dtypes: ['F32', 'BF16', 'F16', 'BF16'], out });
    cases.push({ mode: 'delta', dtypes: ['BF16', 'BF16', 'BF16'], out });
    cases.push({ mode: 'delta', dtypes: ['F32', 'BF16', 'F32'], out });
    cases.push({ mode: 'linear', dtypes: ['BF16', 'F32', 'BF16', 'BF16', 'F32', 'BF16', 'BF16', 'BF16', 'F32'], out });
    cases.push({ mode: 'linear', dtypes: ['BF16', 'F32', 'F16', 'BF16', 'BF16', 'F16', 'F32', 'BF16', 'BF16', 'F16', 'BF16'], out });
  }
  cases.forEach(({ mode, dtypes, out }, k) => {
    it(`${mode} of ${dtypes.join('+')} → ${out}, with NaN, ±Inf, ±0, subnormals and ties`, () => {
      const job = makeJob(mode, dtypes, out, 9001 + (k % 3), k + 1, { specials: 0.2, ties: 0.2 });
      const expected = independentSoup(job);
      expectSame(runSoupJobReference(job), expected, job, 'runSoupJobReference');
      expectSame(fast(job), expected, job, 'fast kernel');
      expectSame(fast(job, false), expected, job, 'JavaScript kernel');
    });
  });

  it('uses WebAssembly SIMD here (Node 20 has it), so the SIMD kernel is what the cases above tested', () => {
    expect(simdAvailable()).toBe(true);
    expect(simdApplies({ ...makeJob('linear', ['BF16', 'F16', 'F32'], 'F16', 8, 1), count: 8 })).toBe(true);
  });

  it('decodes every one of the 65536 F16 patterns exactly in SIMD and in JavaScript (1·x → F32)', () => {
    const bytes = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    const job: SoupJob = { mode: 'linear', coefficients: Float32Array.of(1), inputs: [{ dtype: 'F16', bytes }], outDtype: 'F32', elementCount: 65536 };
    const expected = independentSoup(job);
    expectSame(fast(job), expected, job, 'SIMD');
    expectSame(fast(job, false), expected, job, 'JavaScript');
    const del: SoupJob = { ...job, mode: 'delta', outDtype: 'F16' }; // base alone: round trip F16 → F16
    expectSame(fast(del), independentSoup(del), del, 'SIMD delta');
  });

  it('keeps values exactly on bf16 ties in both directions (1·x, x with low half 0x8000)', () => {
    const job = makeJob('linear', ['F32'], 'BF16', 4097, 5, { ties: 1 }, [1]);
    const expected = independentSoup(job);
    expectSame(fast(job), expected, job, 'fast kernel');
    // Ties do round both ways: some results end even after rounding up, some after rounding down.
    const src = new Uint32Array(job.inputs[0].bytes.slice().buffer);
    const res = new Uint16Array(expected.buffer);
    let up = 0;
    let down = 0;
    for (let i = 0; i < src.length; i++) {
      if (((src[i] & 0x7fffffff) >>> 0) >= 0x7f800000) continue;
      if (res[i] === src[i] >>> 16) down++;
      else up++;
    }
    expect(up).toBeGreaterThan(1000);
    expect(down).toBeGreaterThan(1000);
  });

  it('turns −0 into +0 in linear mode (acc starts at +0) and keeps a lone −0 base in delta mode', () => {
    const negZero = { dtype: 'BF16' as const, bytes: new Uint8Array([0x00, 0x80]) };
    const lin: SoupJob = { mode: 'linear', coefficients: Float32Array.of(0.5, 0.5), inputs: [negZero, negZero], outDtype: 'BF16', elementCount: 1 };
    expect(Array.from(fast(lin))).toEqual([0, 0]);
    const del: SoupJob = { mode: 'delta', coefficients: Float32Array.of(0), inputs: [negZero], outDtype: 'BF16', elementCount: 1 };
    // With a second input, −0 + (+0) = +0 in round-to-nearest: the sign goes, as IEEE says.
    expect(Array.from(fast({ ...lin, mode: 'delta' }))).toEqual([0, 0]);
    expect(Array.from(fast(del))).toEqual([0x00, 0x80]);
    expect(Array.from(runSoupJobReference(del))).toEqual([0x00, 0x80]);
  });

  it('matches the independent reference on arbitrary bit patterns (property)', () => {
    const dtypeArb = fc.constantFrom<KernelDtype>('F32', 'F16', 'BF16');
    fc.assert(
      fc.property(
        fc.constantFrom<SoupJob['mode']>('linear', 'delta'),
        fc.array(fc.tuple(dtypeArb, fc.float({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 })), { minLength: 1, maxLength: 10 }),
        dtypeArb,
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        (mode, ins, outDtype, count, seed) => {
          const r = new Uint32Array(count * 2 * ins.length + 1).map((_, i) => Math.imul(i + 1, 0x9e3779b1) ^ seed);
          const job: SoupJob = {
            mode,
            coefficients: Float32Array.from(ins.map(([, c]) => c)),
            inputs: ins.map(([dtype], k) => {
              const bytes = new Uint8Array(count * KERNEL_DTYPE_BYTES[dtype]);
              new Uint8Array(r.buffer, k * count * 8, bytes.length).forEach((b, j) => (bytes[j] = b));
              return { dtype, bytes };
            }),
            outDtype,
            elementCount: count,
          };
          const expected = independentSoup(job);
          expect(firstDifference(fast(job), expected, KERNEL_DTYPE_BYTES[outDtype])).toBe(-1);
          expect(firstDifference(fast(job, false), expected, KERNEL_DTYPE_BYTES[outDtype])).toBe(-1);
          expect(firstDifference(runSoupJobReference(job), expected, KERNEL_DTYPE_BYTES[outDtype])).toBe(-1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects malformed jobs with a readable message', () => {
    const job = makeJob('linear', ['BF16', 'BF16'], 'BF16', 10, 1);
    expect(() => runSoupJobReference({ ...job, coefficients: Float32Array.of(1) })).toThrow(InputError);
    expect(() => runSoupJobReference({ ...job, elementCount: 11 })).toThrow(/input 0 \(BF16\) has 20 bytes, expected 22/);
    expect(() => runSoupJobReference({ ...job, coefficients: Float32Array.of(1, NaN) })).toThrow(/coefficient 1 is NaN/);
  });
});

describe('CPU backend (in-thread workers)', () => {
  it('splits jobs across workers and joins the parts exactly, with concurrent runs', async () => {
    const backend = createCpuSoupBackend({ workers: 3, spawn: inThreadSpawner, minPartElements: 1024, maxChunkElements: 1 << 20 });
    try {
      const jobs = [0, 1, 2, 3].map((k) => makeJob(k % 2 ? 'delta' : 'linear', ['BF16', 'F16', 'F32', 'BF16'].slice(0, 2 + k % 3) as KernelDtype[], DTYPES[k % 3], 10_001 + k, 50 + k, { specials: 0.05, ties: 0.1 }));
      const outs = await Promise.all(jobs.map((j) => backend.run(j)));
      jobs.forEach((j, k) => expectSame(outs[k], independentSoup(j), j, `job ${k}`));
      await expect(backend.run({ ...jobs[0], elementCount: 2 << 20 })).rejects.toThrow(InputError);
    } finally {
      await backend.dispose();
    }
  });

  it('warm() starts every worker before the first job (the studio prepares a merge so), and jobs then use those', async () => {
    let spawned = 0;
    const backend = createCpuSoupBackend({
      workers: 3,
      spawn: () => {
        spawned++;
        return inThreadSpawner();
      },
      minPartElements: 1024,
    });
    try {
      expect(spawned).toBe(0);
      backend.warm?.();
      expect(spawned).toBe(3);
      const job = makeJob('linear', ['BF16', 'BF16'], 'BF16', 5_000, 7);
      expectSame(await backend.run(job), independentSoup(job), job, 'after warm()');
      backend.warm?.();
      expect(spawned).toBe(3);
    } finally {
      await backend.dispose();
    }
    backend.warm?.();
    expect(spawned, 'a disposed backend starts nothing').toBe(3);
  });

  it('stops with CancelledError when the signal has fired', async () => {
    const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const ac = new AbortController();
    ac.abort();
    await expect(backend.run(makeJob('linear', ['BF16'], 'BF16', 10, 1), ac.signal)).rejects.toThrow(/cancelled/);
    // …and when it fires while the work is in flight.
    const later = new AbortController();
    const running = backend.run(makeJob('linear', ['F16', 'F16'], 'F16', 200_000, 2), later.signal);
    later.abort();
    await expect(running).rejects.toThrow(/cancelled/);
    await backend.dispose();
  });
});
