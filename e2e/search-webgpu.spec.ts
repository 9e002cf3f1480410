/**
 * The Search step on WebGPU (SwiftShader here, chosen by hand): the two demo models are uploaded once
 * and every point is souped by shaders/merge/soup.wgsl straight into the model's weight buffers (the fit
 * line says so); the trials score as the CPU runtime's within float tolerance.
 *
 * Run against the production build: npm run build && npx playwright test e2e/search-webgpu.spec.ts
 */
import { expect, test, type Page } from '@playwright/test';
import type { TrialRecord } from '../src/search/runSearch';
import { openDemoSearch, storedTrials } from './searchStorage';

test.describe.configure({ timeout: 300_000 });

async function searchOn(page: Page, backend: 'webgpu' | 'cpu'): Promise<TrialRecord[]> {
  await page.getByLabel('Run on').selectOption(backend);
  await page.getByRole('button', { name: /^(Start|Resume) the search$/ }).click();
  await expect(page.getByTestId('search-message')).toContainText('Search done', { timeout: 240_000 });
  return storedTrials(page);
}

test('a search on WebGPU soups in the GPU and scores as the CPU runtime does', async ({ page }) => {
  await openDemoSearch(page, 'demo-CoALM-70B', ['arithmetic', 'facts', 'tool-calls']);
  await page.getByLabel('Grid step').selectOption('0.5');
  await expect(page.getByTestId('search-preview')).toHaveText('3 points: 3 baselines, 0 more in the plan, 0 coalitions.');

  const gpu = await searchOn(page, 'webgpu');
  await expect(page.locator('.search-summary')).toContainText('fit (GPU): 2 models on the GPU');
  await expect(page.locator('.search-summary')).toContainText('resident; nothing crosses the bus per point');
  expect(gpu).toHaveLength(3);

  // The same search on the CPU: delete the stored results first (the same search id would reuse them).
  await page.getByRole('button', { name: 'Delete the stored results' }).click();
  await expect(page.getByRole('table', { name: 'Search trials' })).toHaveCount(0);
  const cpu = await searchOn(page, 'cpu');
  await expect(page.locator('.search-summary')).toContainText('held in memory');
  for (const c of cpu) {
    const g = gpu.find((t) => t.key === c.key)!;
    expect(Math.abs(g.tune.prose - c.tune.prose)).toBeLessThan(1e-4);
  }
});

test('a GPU device lost mid-search: one sentence, the finished points kept, resumed on the CPU for the rest', async ({ page }) => {
  await openDemoSearch(page, 'demo-CoALM-70B', ['arithmetic', 'facts', 'tool-calls']);
  // The paper's grid: 11 points, so the loss lands mid-search.
  await expect(page.getByTestId('search-preview')).toHaveText('11 points: 3 baselines, 8 more in the plan, 0 coalitions.');
  await page.getByLabel('Run on').selectOption('webgpu');
  const worker = page.waitForEvent('worker', (w) => w.url().includes('searchWorker'));
  await page.getByRole('button', { name: 'Start the search' }).click();
  const rows = page.getByRole('table', { name: 'Search trials' }).locator('tbody tr');
  await expect(rows).not.toHaveCount(0, { timeout: 120_000 });
  // A real loss, as a driver reset makes it: the worker's device destroys itself the next time it is used.
  await (await worker).evaluate(() => {
    const encoder = GPUDevice.prototype.createCommandEncoder;
    GPUDevice.prototype.createCommandEncoder = function (this: GPUDevice, ...args: Parameters<GPUDevice['createCommandEncoder']>) {
      this.destroy();
      return encoder.apply(this, args);
    };
  });
  const message = page.getByTestId('search-message');
  await expect(message).toContainText('The search stopped: the GPU device was lost', { timeout: 120_000 });
  const kept = await storedTrials(page);
  expect(kept.length).toBeGreaterThanOrEqual(1);
  expect(kept.length).toBeLessThan(11);
  await expect(message).toHaveText(
    new RegExp(`^The search stopped: the GPU device was lost \\(.*\\); its ${kept.length} finished points? (is|are) kept: start it again to resume \\(on the CPU, in Run on, if the GPU does not come back\\)\\.$`),
  );
  await expect(rows).toHaveCount(kept.length);

  // Resumed on the CPU: only the rest is evaluated, the kept points stay as they were.
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('button', { name: 'Resume the search' }).click();
  await expect(message).toHaveText(`Search done: 9 plan points; ${11 - kept.length} evaluated in this run, ${kept.length} taken from the stored results.`, { timeout: 240_000 });
  const all = await storedTrials(page);
  expect(all).toHaveLength(11);
  for (const k of kept) expect(all.find((t) => t.key === k.key)).toEqual(k);
});
