import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../../src/errors';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice } from '../../../src/gpu/device';
import { DeviceLostError, GPUExecutionError } from '../../../src/gpu/errors';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import { bitsToF32, f16ToF32Bits } from '../../../src/formats/floatCodecs';
import { computeSoupSpan } from '../../../src/merge/cpu/fastKernel';
import { KERNEL_DTYPE_BYTES, runSoupJobReference, type KernelDtype, type SoupJob } from '../../../src/merge/kernel';
import { nodeGPU } from '../../../src/node/webgpu';
import { makeJob } from '../kernelTestData';
import { compareOutputs } from './soupCompare';

const DTYPES: KernelDtype[] = ['F32', 'F16', 'BF16'];

function cpu(job: SoupJob): Uint8Array {
  const out = new Uint8Array(job.elementCount * KERNEL_DTYPE_BYTES[job.outDtype]);
  computeSoupSpan({ ...job, count: job.elementCount }, out);
  return out;
}

/** Issue 3's tolerance: all within 1 ulp of the output dtype (or both f32-subnormal), ≥ 99.9 % identical. */
function expectClose(job: SoupJob, gpu: Uint8Array, what: string): void {
  const r = compareOutputs(job.outDtype, gpu, cpu(job));
  const ok = r.withinOneUlp + r.flushedSubnormals;
  expect(ok, `${what}: ${r.elements - ok} elements beyond tolerance, worst ${JSON.stringify(r.worst)}`).toBe(r.elements);
  expect(r.identical / r.elements, `${what}: identical fraction`).toBeGreaterThanOrEqual(0.999);
}

let backend: WebGPUSoupBackend;

/** An adapter opens one device only: each backend gets its own. */
async function freshAdapter(): Promise<GPUAdapter> {
  return requestAdapter(await nodeGPU());
}

beforeAll(async () => {
  backend = await createWebGPUSoupBackend(await freshAdapter());
});
afterAll(async () => {
  await backend?.dispose();
});

describe('WebGPU soup kernel (Dawn) vs the CPU kernel, on generated data', () => {
  for (const outDtype of DTYPES) {
    for (const mode of ['linear', 'delta'] as const) {
      it(`${mode} → ${outDtype}: mixed F32/F16/BF16 inputs with NaN, ±Inf, ±0, subnormals, ties, odd count`, async () => {
        const job = makeJob(mode, ['BF16', 'F16', 'F32', 'BF16'], outDtype, 20_001, mode === 'linear' ? 11 : 12, { specials: 0.1, ties: 0.2 });
        expectClose(job, await backend.run(job), `${mode} → ${outDtype}`);
      });
    }
  }

  it('takes more inputs than a shader stage has storage bindings (12 inputs)', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'F32', 'F16', 'BF16', 'BF16', 'F16', 'F32', 'BF16', 'BF16', 'F16', 'BF16', 'F32'];
    const linear = makeJob('linear', dtypes, 'BF16', 4099, 21, { specials: 0.02, ties: 0.1 });
    expectClose(linear, await backend.run(linear), 'linear of 12');
    const delta = makeJob('delta', dtypes, 'F32', 4099, 22, { specials: 0.02 });
    expectClose(delta, await backend.run(delta), 'delta of 12');
  });

  it('handles the smallest jobs: 0, 1 and 3 elements', async () => {
    for (const n of [0, 1, 3]) {
      const job = makeJob('linear', ['BF16', 'F16'], 'F16', n, 30 + n, { specials: 0.3 });
      const out = await backend.run(job);
      expect(out.length).toBe(n * 2);
      expect(Array.from(out)).toEqual(Array.from(runSoupJobReference(job)));
    }
  });

  it('runs many jobs concurrently, reusing buffers and pipelines', async () => {
    const jobs = Array.from({ length: 8 }, (_, k) => makeJob(k % 2 ? 'delta' : 'linear', ['BF16', 'BF16', 'BF16'], DTYPES[k % 3], 30_000 + k, 40 + k, { specials: 0.01, ties: 0.05 }));
    const before = backend.stats();
    const outs = await Promise.all(jobs.map((j) => backend.run(j)));
    jobs.forEach((j, k) => expectClose(j, outs[k], `concurrent job ${k}`));
    const after = backend.stats();
    // One pipeline per job shape: 8 jobs of 6 shapes (2 modes × 3 output dtypes of 3 BF16 inputs).
    expect(after.pipelines - before.pipelines).toBe(6);
    expect(after.buffersReused - before.buffersReused).toBeGreaterThan(after.buffersCreated - before.buffersCreated);
    await Promise.all(jobs.map((j) => backend.run(j)));
    expect(backend.stats().pipelines).toBe(after.pipelines);
  });

  it('takes dozens of inputs of every dtype in any order (coefficients beyond the first few)', async () => {
    const dtypes = Array.from({ length: 37 }, (_, i) => DTYPES[(i * 7) % 3]);
    const linear = makeJob('linear', dtypes, 'F16', 1029, 70, { specials: 0.02, ties: 0.1 });
    expectClose(linear, await backend.run(linear), 'linear of 37');
    const delta = makeJob('delta', dtypes, 'BF16', 1029, 71, { specials: 0.02, ties: 0.1 });
    expectClose(delta, await backend.run(delta), 'delta of 37');
  });

  it('refuses, with a message, more inputs than the kernel parameters can hold', async () => {
    const n = 4 * Math.floor((backend.gpuDevice.limits.maxUniformBufferBindingSize - 16) / 16) + 1;
    const job: SoupJob = { mode: 'linear', coefficients: new Float32Array(n).fill(1 / n), inputs: Array.from({ length: n }, () => ({ dtype: 'BF16' as const, bytes: new Uint8Array(2) })), outDtype: 'BF16', elementCount: 1 };
    await expect(backend.run(job)).rejects.toThrow(new RegExp(`^${n} inputs are more than this GPU's WebGPU kernel takes \\(${n - 1}\\); use the CPU backend$`));
  });
});

/** x as a one-input soup with coefficient 1: the kernel's decode, then its rounding to `outDtype`. */
function identityJob(dtype: KernelDtype, bytes: Uint8Array, outDtype: KernelDtype): SoupJob {
  return { mode: 'linear', coefficients: Float32Array.of(1), inputs: [{ dtype, bytes }], outDtype, elementCount: bytes.length / KERNEL_DTYPE_BYTES[dtype] };
}

describe('WebGPU soup kernel: decoding and rounding of every 16-bit pattern', () => {
  const every16 = new Uint8Array(Uint16Array.from({ length: 65536 }, (_, h) => h).buffer);

  it('decodes all 65536 F16 and all normal BF16 patterns (±0, ±Inf, NaNs) bit-exactly', async () => {
    const f16 = identityJob('F16', every16, 'F32');
    // No f32 subnormal arises from an F16 input: this holds bit for bit on any GPU.
    expect(Array.from(await backend.run(f16))).toEqual(Array.from(runSoupJobReference(f16)));
    // BF16 subnormals are f32 subnormals, which a GPU (SwiftShader too) may flush: tested within tolerance.
    const isSubnormal = (h: number): boolean => (h & 0x7f80) === 0 && (h & 0x7f) !== 0;
    const normal = new Uint8Array(Uint16Array.from({ length: 65536 }, (_, h) => h).filter((h) => !isSubnormal(h)).buffer);
    const bf16 = identityJob('BF16', normal, 'F32');
    expect(Array.from(await backend.run(bf16))).toEqual(Array.from(runSoupJobReference(bf16)));
    const subnormals = identityJob('BF16', new Uint8Array(Uint16Array.from({ length: 65536 }, (_, h) => h).filter(isSubnormal).buffer), 'F32');
    const r = compareOutputs('F32', await backend.run(subnormals), runSoupJobReference(subnormals));
    expect(r.withinOneUlp + r.flushedSubnormals).toBe(r.elements);
  });

  it('rounds f32 values at and around every F16 and BF16 rounding boundary like the reference', async () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const bitsOf = (x: number): number => ((f32[0] = x), u32[0]);
    // Each 16-bit value, the midpoint to the next one (a tie) and the f32 values either side of both.
    const f16Cases: number[] = [];
    for (let h = 0; h < 0xffff; h++) {
      const a = bitsToF32(f16ToF32Bits(h));
      const b = bitsToF32(f16ToF32Bits(h + 1));
      if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
      const mid = bitsOf((a + b) / 2); // exact: 12 significant bits
      f16Cases.push(bitsOf(a), mid, mid + 1, mid - 1);
    }
    const bf16Cases: number[] = [];
    for (let h = 0; h < 0x10000; h++) for (const low of [0, 0x7fff, 0x8000, 0x8001, 0xffff]) bf16Cases.push(((h << 16) | low) >>> 0);
    for (const [outDtype, cases] of [['F16', f16Cases], ['BF16', bf16Cases]] as const) {
      // f32 subnormals may be flushed by a GPU: leave them out, so that this holds bit for bit anywhere.
      const inputs = Uint32Array.from(cases.filter((u) => (u & 0x7f800000) !== 0 || (u & 0x7fffffff) === 0));
      const job = identityJob('F32', new Uint8Array(inputs.buffer), outDtype);
      expect(Array.from(await backend.run(job)), outDtype).toEqual(Array.from(runSoupJobReference(job)));
    }
  });
});

describe('WebGPU soup kernel: kernel-only timing for benchmarks', () => {
  it('times repeated dispatches on resident buffers and counts the bytes they move', async () => {
    const job = makeJob('linear', ['BF16', 'BF16', 'F32'], 'BF16', 10_001, 80);
    const t = await backend.timeKernel(job, 2);
    expect(t.seconds).toBeGreaterThan(0);
    expect(t.bytesPerRun).toBe(10_001 * (2 + 2 + 4 + 2));
    // The backend still works normally afterwards.
    expectClose(job, await backend.run(job), 'after timeKernel');
  });
});

describe('WebGPU soup kernel: chunking', () => {
  it('splits a job into many pieces and folds wide dispatches into two dimensions, with identical results', async () => {
    const small = await createWebGPUSoupBackend(await freshAdapter(), { maxPieceBytes: 16 * 1024, maxChunkElements: 1 << 20, maxWorkgroupsPerDimension: 3 });
    try {
      const job = makeJob('delta', ['BF16', 'F32', 'F16'], 'BF16', 100_003, 50, { specials: 0.01, ties: 0.1 });
      const out = await small.run(job);
      expectClose(job, out, 'many pieces');
      // 16 KiB / 8 bytes per element → pieces of 2048 elements (4 workgroups: 3 wide, 2 high): 49 of them.
      expect(small.stats().piecesRun).toBe(49);
      const big = makeJob('linear', ['BF16', 'BF16'], 'F32', 1 << 20, 51, { specials: 0.001 });
      await expect(small.run({ ...big, elementCount: (1 << 20) + 1, inputs: big.inputs.map((i) => ({ ...i, bytes: new Uint8Array(i.bytes.length + 2) })) })).rejects.toThrow(/exceeds the backend's chunk limit/);
    } finally {
      await small.dispose();
    }
  });

  it('splits large jobs into at least four pieces so upload, compute and readback overlap', async () => {
    const b = await createWebGPUSoupBackend(await freshAdapter());
    try {
      const job = makeJob('linear', ['BF16', 'BF16', 'BF16'], 'BF16', 4 * 1024 * 1024 + 7, 60, { ties: 0.05 });
      expectClose(job, await b.run(job), '4 Mi elements');
      expect(b.stats().piecesRun).toBe(4);
    } finally {
      await b.dispose();
    }
  });
});

/** Tiny safetensors reader for the fixtures: the F32 tensors by name. */
function readF32Tensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue;
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, { shape: t.shape, data: new Float32Array(new Uint8Array(bytes).buffer) });
  }
  return out;
}

/** F32 → 16-bit bytes, round to nearest even (BF16 by the usual bit formula, F16 via the CPU encoder). */
function encodeAs(dtype: KernelDtype, data: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.slice().buffer);
  const job: SoupJob = { mode: 'linear', coefficients: Float32Array.of(1), inputs: [{ dtype: 'F32', bytes: new Uint8Array(data.slice().buffer) }], outDtype: dtype, elementCount: data.length };
  return runSoupJobReference(job);
}

describe('WebGPU soup kernel vs CPU on the real fixtures (../shared/fixtures)', () => {
  const fixtures = join(__dirname, '../../../../shared/fixtures');
  for (const file of ['ollama_minicpm3_testdata.safetensors', 'burn_mnist.safetensors']) {
    it(`${file}: soups of same-shape tensors as F32, and as BF16/F16 derived from F32 by round-to-nearest-even`, async () => {
      const tensors = readF32Tensors(join(fixtures, file));
      const byShape = new Map<string, Float32Array[]>();
      for (const t of tensors.values()) {
        const key = t.shape.join('x');
        byShape.set(key, [...(byShape.get(key) ?? []), t.data]);
      }
      let jobs = 0;
      for (const [shape, group] of byShape) {
        if (group.length < 2) continue;
        for (const [k, dtype] of DTYPES.entries()) {
          const members = group.slice(0, 5);
          const coefficients = Float32Array.from(members, (_, i) => (i === 0 ? 0.4 : 0.6 / (members.length - 1)));
          for (const mode of ['linear', 'delta'] as const) {
            const job: SoupJob = { mode, coefficients, inputs: members.map((d) => ({ dtype, bytes: encodeAs(dtype, d) })), outDtype: DTYPES[(k + 1) % 3], elementCount: members[0].length };
            expectClose(job, await backend.run(job), `${file} ${shape} ${mode} ${dtype}`);
            jobs++;
          }
        }
      }
      expect(jobs).toBeGreaterThanOrEqual(6);
    });
  }
});

describe('WebGPU soup backend: failures are typed and nothing hangs', () => {
  it('cancels with CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(backend.run(makeJob('linear', ['BF16'], 'BF16', 100, 1), ac.signal)).rejects.toThrow(CancelledError);
  });

  it('reports a validation error in our own commands as GPUExecutionError', async () => {
    const dev = await createSoupDevice(await freshAdapter());
    try {
      const { errors } = dev.scoped('making a bad buffer', () => dev.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }));
      await expect(errors).rejects.toThrow(GPUExecutionError);
      await expect(errors).rejects.toThrow(/making a bad buffer: GPU validation error/);
    } finally {
      dev.destroy();
    }
  });

  it('turns device loss mid-way into DeviceLostError for every run, in flight or later', async () => {
    const b = await createWebGPUSoupBackend(await freshAdapter(), { maxPieceBytes: 64 * 1024 });
    const jobs = Array.from({ length: 4 }, (_, k) => makeJob('linear', ['BF16', 'F32'], 'BF16', 200_000, 70 + k));
    const runs = jobs.map((j) => b.run(j).then(() => 'ok', (e: unknown) => e));
    // Lost while every run is in flight (no sleep: how far they got must not depend on the machine's speed).
    b.gpuDevice.destroy();
    // Every run settles (a hang fails the test at its timeout, whatever the machine's speed).
    const results = await Promise.all(runs);
    const failures = results.filter((r) => r !== 'ok');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f).toBeInstanceOf(DeviceLostError);
      expect((f as Error).message).toMatch(/GPU device was lost/);
    }
    await expect(b.run(jobs[0])).rejects.toThrow(DeviceLostError);
    await b.dispose();
  });
});
