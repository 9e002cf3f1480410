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
