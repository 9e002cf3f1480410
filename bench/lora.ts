/**
 * `npm run bench -- lora`: the rows of one LoRA-adapted tensor (W + s·B·A, and DoRA's form), read whole
 * in blocks of 256 rows as a merge reads them: the CPU twin (src/formats/lora/loraRows.ts, f64) and the
 * WebGPU kernel (shaders/merge/loraRows.wgsl, float-floats) on the Dawn adapter the process gets.
 * Prints seconds per tensor and the largest distance in ulps between the two (held to ≤ 1). Size:
 * SOUPLAB_BENCH_LORA_DIM (default 4096), rank SOUPLAB_BENCH_LORA_RANK (default 16). On SwiftShader the GPU
 * numbers say what a software renderer does, nothing about a real GPU.
 */
import { describeAdapter, requestAdapter } from '../src/gpu/adapter';
import { mergeLoraRows, type LoraFactors, type LoraRowsComputer } from '../src/formats/lora/loraRows';
import { createWebGPUSoupBackend } from '../src/merge/gpu/webgpuSoupBackend';
import { nodeGPU } from '../src/node/webgpu';
import { seededUniform } from '../src/util/random';
import type { Benchmark } from './registry';

const BLOCK_ROWS = 256;

function values(n: number, seed: number, scale: number): Float64Array {
  const u = seededUniform(seed);
  return Float64Array.from({ length: n }, () => Math.fround((u() * 2 - 1) * scale));
}

async function timeTensor(compute: (row0: number, rows: number) => Promise<Float32Array>, rowsTotal: number, cols: number): Promise<{ seconds: number; out: Float32Array }> {
  const out = new Float32Array(rowsTotal * cols);
  const t0 = performance.now();
  for (let row0 = 0; row0 < rowsTotal; row0 += BLOCK_ROWS) out.set(await compute(row0, Math.min(BLOCK_ROWS, rowsTotal - row0)), row0 * cols);
  return { seconds: (performance.now() - t0) / 1000, out };
}

function worstUlps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer);
  const ib = new Int32Array(b.buffer);
  const line = (x: number) => (x < 0 ? -(x & 0x7fffffff) : x);
  let worst = 0;
  for (let i = 0; i < ia.length; i++) worst = Math.max(worst, Math.abs(line(ia[i]) - line(ib[i])));
  return worst;
}

export const loraBenchmark: Benchmark = {
  name: 'lora',
  description: 'one LoRA-adapted tensor (plain and DoRA) on the CPU twin and the WebGPU kernel',
  async run() {
    const dim = Number(process.env.SOUPLAB_BENCH_LORA_DIM ?? 4096);
    const r = Number(process.env.SOUPLAB_BENCH_LORA_RANK ?? 16);
    const adapter = await requestAdapter(await nodeGPU());
    const backend = await createWebGPUSoupBackend(adapter);
    const gpu: LoraRowsComputer = backend.loraRows;
    let ok = true;
    try {
      console.log(`${dim}×${dim}, rank ${r}, blocks of ${BLOCK_ROWS} rows; GPU: ${describeAdapter(adapter).name}`);
      const w = Float32Array.from(values(dim * dim, 1, 0.05));
      for (const dora of [false, true]) {
        const f: LoraFactors = { a: values(r * dim, 2, 0.02), b: values(dim * r, 3, 0.02), r, outFeatures: dim, inFeatures: dim, scale: 32 / Math.sqrt(r), fanInFanOut: false, magnitude: dora ? values(dim, 4, 1).map(Math.abs) : undefined };
        const rows = (row0: number, n: number) => w.subarray(row0 * dim, (row0 + n) * dim);
        const cpu = await timeTensor(async (row0, n) => mergeLoraRows(f, rows(row0, n), row0, n), dim, dim);
        const onGpu = await timeTensor((row0, n) => gpu.mergeRows(f, rows(row0, n), row0, n), dim, dim);
        const ulps = worstUlps(onGpu.out, cpu.out);
        if (ulps > 1) ok = false;
        console.log(`${dora ? 'DoRA' : 'LoRA'}: CPU (f64) ${cpu.seconds.toFixed(2)} s, WebGPU (float-float) ${onGpu.seconds.toFixed(2)} s; largest difference ${ulps} ulp (target ≤ 1)`);
      }
    } finally {
      await backend.dispose();
    }
    return ok;
  },
};
