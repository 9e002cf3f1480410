/**
 * The Search step on WebGPU (SwiftShader here, chosen by hand): the two demo models are uploaded once
 * and every point is souped by shaders/soup.wgsl straight into the model's weight buffers (the fit
 * line says so); the trials score as the CPU runtime's within float tolerance.
 *
 * Run against the production build: npm run build && npx playwright test e2e/search-webgpu.spec.ts
 */
import { expect, test, type Page } from '@playwright/test';
import { openFreshStudio } from './freshSession';

test.describe.configure({ timeout: 300_000 });

interface Trial {
  key: string;
  tune: Record<string, number>;
  objective: number;
}

async function searchOn(page: Page, backend: 'webgpu' | 'cpu'): Promise<Trial[]> {
  await page.getByLabel('Run on').selectOption(backend);
  await page.getByRole('button', { name: /^(Start|Resume) the search$/ }).click();
  await expect(page.getByTestId('search-message')).toContainText('Search done', { timeout: 240_000 });
  return page.evaluate(
    () =>
      new Promise<Trial[]>((resolve, reject) => {
        const open = indexedDB.open('souplab-search');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('trials').objectStore('trials').getAll();
          req.onsuccess = () => {
            open.result.close();
            resolve((req.result as { record: Trial }[]).map((r) => r.record));
          };
        };
      }),
  );
}

test('a search on WebGPU soups in the GPU and scores as the CPU runtime does', async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('tab', { name: 'Search' }).click();
  await expect(page.locator('.search-models tbody tr')).toHaveCount(3, { timeout: 30_000 });
  await page.getByLabel('demo-CoALM-70B in the search').uncheck();
  await page.getByLabel('Grid step').selectOption('0.5');
  for (const t of ['arithmetic', 'facts', 'tool-calls']) await page.locator('.search-task', { hasText: t }).getByRole('checkbox').uncheck();
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
