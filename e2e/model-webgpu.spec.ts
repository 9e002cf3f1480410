import { expect, test } from '@playwright/test';

// Issue 9 §1: the WGSL forward pass runs in Chromium too. The page (served by the Vite dev server,
// which serves the engine's TypeScript) generates a tiny Qwen3 and a tiny Llama (BF16, with their
// byte-level BPE tokenizer), opens them through the runtime's loading path, scores texts on the
// browser's WebGPU adapter and on the CPU twin, and generates a few tokens greedily on both.
const DEV = process.env.SOUPLAB_E2E_DEV_URL ?? 'http://localhost:5174';

test('the WGSL forward pass in Chromium gives the CPU twin\'s log-probs and greedy tokens', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(`${DEV}/`);
  const result = await page.evaluate(async () => {
    const tiny = (await import('/scripts/tinyModel.ts' as string)) as typeof import('../scripts/tinyModel');
    const ckpt = (await import('/src/formats/checkpoint.ts' as string)) as typeof import('../src/formats/checkpoint');
    const mem = (await import('/src/formats/memorySource.ts' as string)) as typeof import('../src/formats/memorySource');
    const load = (await import('/src/model/load.ts' as string)) as typeof import('../src/model/load');
    const create = (await import('/src/model/create.ts' as string)) as typeof import('../src/model/create');
    const texts = ['The quick brown fox jumps over the lazy dog.', 'A soup of models is the average of their weights.'];
    const report: { arch: string; backend: string; tokens: number; maxDiff: number; sameGreedy: boolean }[] = [];
    for (const architecture of ['qwen3', 'llama'] as const) {
      const { files } = await tiny.tinyModel({ architecture, dtype: 'BF16', seed: 11 });
      const model = await load.openModel(await ckpt.openCheckpoint(new Map([...files].map(([k, v]) => [k, mem.bytesSource(v, k)])), `tiny-${architecture}`));
      const seqs = texts.map((t) => Int32Array.from(model.tokenizer!.encode(t)));
      // createCausalLM finds the adapter through navigator.gpu, as the studio will.
      const gpu = await create.createCausalLM(model.config, model.weights, { backend: 'webgpu' });
      const cpu = await create.createCausalLM(model.config, model.weights, { backend: 'cpu' });
      try {
        const [g, c] = [await gpu.scoreTokens(seqs), await cpu.scoreTokens(seqs)];
        let maxDiff = 0;
        let tokens = 0;
        g.forEach((x, i) => x.forEach((v, t) => {
          maxDiff = Math.max(maxDiff, Number.isFinite(v) ? Math.abs(v - c[i][t]) : Infinity);
          tokens++;
        }));
        const [gg, cg] = [await gpu.generate(seqs[0], 5), await cpu.generate(seqs[0], 5)];
        report.push({ arch: architecture, backend: gpu.backend, tokens, maxDiff, sameGreedy: gg.length > 0 && gg.join() === cg.join() });
      } finally {
        gpu.dispose();
        cpu.dispose();
      }
    }
    return report;
  });
  expect(result).toHaveLength(2);
  for (const r of result) {
    expect(r.backend).toBe('webgpu');
    expect(r.tokens, r.arch).toBeGreaterThan(10);
    expect(r.maxDiff, `${r.arch}: max |Δ log-prob|`).toBeLessThan(1e-4);
    expect(r.sameGreedy, `${r.arch}: greedy tokens`).toBe(true);
  }
});
