/**
 * `npm run bench -- kernels`: the soup kernels alone, from memory (no disk): 3 BF16 inputs of
 * SOUPLAB_BENCH_KERNEL_MB each (default 300) streamed through each backend in chunks of the backend's
 * maxChunkElements, a few chunks in flight, linear soup → BF16. Prints input GB/s and peak RSS.
 * Chunks are generated once and reused (the kernels do not care), so memory stays that of the chunks
 * in flight. Targets: the CPU backend bit-exact to the reference on a checked chunk and peak RSS
 * ≤ 512 MB; the WebGPU numbers are reported (on SwiftShader they say nothing about a real GPU).
 */
import { existsSync, readdirSync } from 'node:fs';
import { requestAdapter } from '../src/gpu/adapter';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../src/merge/gpu/webgpuSoupBackend';
import { runSoupJobReference, type SoupBackend, type SoupJob } from '../src/merge/kernel';
import { createNodeCpuBackend } from '../src/node/cpuWorkers';
import { nodeGPU } from '../src/node/webgpu';
import type { Benchmark } from './registry';
import { PeakRss } from './peakRss';

const RSS_TARGET_MB = 512;
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** An NVIDIA, AMD (proprietary) or other vendor ICD that Dawn accepts; Mesa's software and Intel/Radeon stubs do not count. */
export function hasHardwareVulkanDriver(): boolean {
  return ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some((dir) => existsSync(dir) && readdirSync(dir).some((f) => /nvidia|amd_icd|amdvlk/i.test(f)));
}


/** Plausible BF16 weights: a random walk of magnitudes around 0.02, both signs. */
function bf16Chunk(elements: number, seed: number): Uint8Array {
  const out = new Uint16Array(elements);
  let s = seed >>> 0;
  for (let i = 0; i < elements; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = 0x3c00 + (s >>> 22) + ((s & 1) << 15); // exponents around 2^-7 … 2^-6, random sign
  }
  return new Uint8Array(out.buffer);
}

async function measure(backend: SoupBackend, mbPerInput: number, inFlight: number): Promise<{ seconds: number; cpuSeconds: number; gbps: number; peakMb: number; exact: boolean }> {
  const chunk = Math.min(backend.maxChunkElements, 8 * 1024 * 1024);
  const totalElements = Math.floor((mbPerInput * 1e6) / 2);
  const chunks = Math.ceil(totalElements / chunk);
  const inputs = [1, 2, 3].map((k) => bf16Chunk(chunk, k));
  const jobFor = (count: number): SoupJob => ({
    mode: 'linear',
    coefficients: Float32Array.of(0.3, 0.3, 0.4),
    inputs: inputs.map((bytes) => ({ dtype: 'BF16' as const, bytes: bytes.subarray(0, count * 2) })),
    outDtype: 'BF16',
    elementCount: count,
  });
  // Correctness first, on a slice (the reference is slow).
  const check = jobFor(Math.min(chunk, 1 << 18));
  const want = runSoupJobReference(check);
  const got = await backend.run(check);
  const exact = got.length === want.length && got.every((b, i) => b === want[i]);

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rss = new PeakRss();
  const cpu0 = process.cpuUsage(); // all threads of the process, workers included
  const t0 = performance.now();
  let next = 0;
  let sink = 0;
  async function lane(): Promise<void> {
    while (next < chunks) {
      const k = next++;
      const count = Math.min(chunk, totalElements - k * chunk);
      const out = await backend.run(jobFor(count));
      sink ^= out[0];
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - t0) / 1000;
  const cpuUsed = process.cpuUsage(cpu0);
  const cpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
  const peakMb = rss.stop() / 1e6;
  if (sink < 0) console.log(sink);
  return { seconds, cpuSeconds, gbps: (3 * totalElements * 2) / seconds / 1e9, peakMb, exact };
}

export const kernelsBenchmark: Benchmark = {
  name: 'kernels',
  description: `soup kernels from memory: 3 BF16 inputs × ${process.env.SOUPLAB_BENCH_KERNEL_MB ?? 300} MB, linear → BF16, on CPU workers and WebGPU; input GB/s, peak RSS (CPU target ≤ ${RSS_TARGET_MB} MB)`,
  async run() {
    const mbPerInput = Number(process.env.SOUPLAB_BENCH_KERNEL_MB ?? '300');
    let ok = true;

    const cpu = createNodeCpuBackend();
    try {
      const r = await measure(cpu, mbPerInput, 2);
      const pass = r.exact && r.peakMb <= RSS_TARGET_MB;
      ok &&= pass;
      console.log(`cpu     ${cpu.description}: ${(3 * mbPerInput).toFixed(0)} MB in ${r.seconds.toFixed(2)} s = ${r.gbps.toFixed(2)} GB/s of input (${r.cpuSeconds.toFixed(2)} s of CPU time over all threads: ${((3 * mbPerInput) / 1000 / r.cpuSeconds).toFixed(2)} GB/s per core-second, which a busy machine does not distort), peak RSS ${r.peakMb.toFixed(0)} MB, bit-exact ${r.exact} ${pass ? 'PASS' : 'FAIL'}`);
    } finally {
      await cpu.dispose();
    }

    // Dawn refuses Mesa's lavapipe; where the system's only Vulkan drivers are such, use the
    // SwiftShader that Debian's chromium ships (as vitest.config does), unless told otherwise.
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !hasHardwareVulkanDriver()) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    let gpu: WebGPUSoupBackend | undefined;
    try {
      gpu = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
    } catch (e) {
      console.log(`webgpu  not available: ${(e as Error).message}`);
    }
    if (gpu) {
      try {
        // A software adapter (SwiftShader) runs at tens of MB/s: measure it on less data unless told.
        const software = /swiftshader|llvmpipe|lavapipe|warp/i.test(gpu.description);
        const gpuMb = software && !process.env.SOUPLAB_BENCH_KERNEL_MB ? 32 : mbPerInput;
        const r = await measure(gpu, gpuMb, 3);
        console.log(`webgpu  ${gpu.description}: ${(3 * gpuMb).toFixed(0)} MB in ${r.seconds.toFixed(2)} s = ${r.gbps.toFixed(2)} GB/s of input, peak RSS ${r.peakMb.toFixed(0)} MB, bit-exact on the checked slice ${r.exact} (reported, no target here)`);
        // The kernel alone, on resident buffers: compare with the device's memory bandwidth (§5 asks ≥ 70 %).
        const elements = Math.min(gpu.maxChunkElements, software ? 1 << 21 : 1 << 24);
        const kernelJob: SoupJob = {
          mode: 'linear',
          coefficients: Float32Array.of(0.3, 0.3, 0.4),
          inputs: [1, 2, 3].map((k) => ({ dtype: 'BF16' as const, bytes: bf16Chunk(elements, k) })),
          outDtype: 'BF16',
          elementCount: elements,
        };
        const repeats = software ? 3 : 50;
        const k = await gpu.timeKernel(kernelJob, repeats);
        console.log(`webgpu  kernel only: ${elements} elements × 3 BF16 → BF16, ${repeats} runs: ${((k.bytesPerRun * repeats) / k.seconds / 1e9).toFixed(3)} GB/s of memory traffic (inputs read + output written)`);
      } finally {
        await gpu.dispose();
      }
    }
    return ok;
  },
};
