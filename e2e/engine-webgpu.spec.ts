import { expect, test } from '@playwright/test';

// Issue 3 §6: in Chromium, the browser's WebGPU path merging inputs held in OPFS equals the CPU
// result. The page (served by the Vite dev server, which serves the engine's TypeScript) generates
// mixed-dtype inputs with NaN, ±Inf, ±0, subnormals and bf16 ties, writes them to OPFS, reads them
// back in chunks with Blob.slice, merges every chunk on WebGPU and on the CPU backend's web workers,
// and compares both with the single-threaded reference.
// Set by playwright.config.ts (the dev server's port follows SOUPLAB_E2E_PORT).
const DEV = process.env.SOUPLAB_E2E_DEV_URL ?? 'http://localhost:5174';

test('the WebGPU soup kernel in Chromium equals the CPU result on inputs read from OPFS', async ({ page }) => {
  await page.goto(`${DEV}/`);
  const result = await page.evaluate(async () => {
    const src = '/src/';
    const tests = '/test/';
    const gpuMod = (await import(`${src}merge/gpu/webgpuSoupBackend.ts`)) as typeof import('../src/merge/gpu/webgpuSoupBackend');
    const adapterMod = (await import(`${src}gpu/adapter.ts`)) as typeof import('../src/gpu/adapter');
    const kernel = (await import(`${src}merge/kernel.ts`)) as typeof import('../src/merge/kernel');
    const workers = (await import(`${src}merge/cpu/browserSpawner.ts`)) as typeof import('../src/merge/cpu/browserSpawner');
    const data = (await import(`${tests}merge/kernelTestData.ts`)) as typeof import('../test/merge/kernelTestData');
    const compare = (await import(`${tests}merge/gpu/soupCompare.ts`)) as typeof import('../test/merge/gpu/soupCompare');

    const count = 300_001;
    const chunk = 65_536;
    const dtypes = ['BF16', 'F16', 'F32', 'BF16'] as const;
    const root = await navigator.storage.getDirectory();
    const files: File[] = [];
    for (const [i, dtype] of dtypes.entries()) {
      const bytes = data.makeInput(dtype, count, 1000 + i, { specials: 0.02, ties: 0.2 });
      const handle = await root.getFileHandle(`soup-input-${i}.bin`, { create: true });
      const writable = await handle.createWritable();
      await writable.write(bytes.slice());
      await writable.close();
      files.push(await handle.getFile());
    }

    const gpu = await gpuMod.createWebGPUSoupBackend(await adapterMod.requestAdapter(navigator.gpu));
    const cpu = workers.createBrowserCpuBackend({ workers: 2 });
    const report: { mode: string; outDtype: string; elements: number; identical: number; withinTolerance: number; cpuExact: boolean }[] = [];
    try {
      // Every case runs the web workers' WebAssembly SIMD kernel; the last one on a subset of the inputs.
      const cases = [['linear', 'BF16', [0, 1, 2, 3]], ['delta', 'F16', [0, 1, 2, 3]], ['linear', 'F32', [0, 1, 2, 3]], ['delta', 'BF16', [0, 2, 3]]] as const;
      for (const [mode, outDtype, use] of cases) {
        const size = kernel.KERNEL_DTYPE_BYTES[outDtype];
        const gpuOut = new Uint8Array(count * size);
        const cpuOut = new Uint8Array(count * size);
        const refOut = new Uint8Array(count * size);
        for (let start = 0; start < count; start += chunk) {
          const n = Math.min(chunk, count - start);
          const inputs = await Promise.all(
            use.map(async (i) => {
              const dtype = dtypes[i];
              const w = kernel.KERNEL_DTYPE_BYTES[dtype];
              return { dtype, bytes: new Uint8Array(await files[i].slice(start * w, (start + n) * w).arrayBuffer()) };
            }),
          );
          const job = { mode, coefficients: Float32Array.from(use, (i) => [0.4, 0.3, 0.2, 0.1][i]), inputs, outDtype, elementCount: n };
          const [g, c] = await Promise.all([gpu.run(job), cpu.run(job)]);
          gpuOut.set(g, start * size);
          cpuOut.set(c, start * size);
          refOut.set(kernel.runSoupJobReference(job), start * size);
        }
        const r = compare.compareOutputs(outDtype, gpuOut, cpuOut);
        report.push({ mode, outDtype, elements: r.elements, identical: r.identical, withinTolerance: r.withinOneUlp + r.flushedSubnormals, cpuExact: cpuOut.every((b, i) => b === refOut[i]) });
      }
    } finally {
      await gpu.dispose();
      await cpu.dispose();
      for (let i = 0; i < dtypes.length; i++) await root.removeEntry(`soup-input-${i}.bin`);
    }
    return { description: gpu.description, report };
  });

  expect(result.description).toMatch(/^WebGPU on /);
  expect(result.report).toHaveLength(4);
  for (const r of result.report) {
    expect(r.elements, `${r.mode} → ${r.outDtype}`).toBe(300_001);
    expect(r.cpuExact, `${r.mode} → ${r.outDtype}: web-worker CPU backend bit-exact to the reference`).toBe(true);
    expect(r.withinTolerance, `${r.mode} → ${r.outDtype}: within 1 ulp`).toBe(r.elements);
    expect(r.identical / r.elements, `${r.mode} → ${r.outDtype}: identical fraction`).toBeGreaterThanOrEqual(0.999);
  }
});
