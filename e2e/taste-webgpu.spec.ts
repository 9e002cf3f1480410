import { expect, test } from '@playwright/test';
import { openFreshStudio } from './freshSession';

// Taste on WebGPU (Chromium's SwiftShader adapter here: chosen by hand, as a software renderer is not the
// default) scores the demo soup and ingredients as the CPU runtime does, within f32 rounding.
test.describe.configure({ timeout: 300_000 });

async function tasteOn(page: import('@playwright/test').Page, backend: 'webgpu' | 'cpu'): Promise<Map<string, number>> {
  await page.getByLabel('Run on').selectOption(backend);
  await page.getByRole('button', { name: 'Taste', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Cancel' })).toHaveCount(0, { timeout: 240_000 });
  await expect(page.getByRole('alert')).toHaveCount(0);
  // Each run keeps its own card, newest first: read this run's.
  const cells = await page.locator('table[aria-label="Taste scores"]').first().locator('td[data-perplexity]').evaluateAll((tds) =>
    tds.map((td) => [td.closest('tr')!.getAttribute('data-model')!, Number(td.getAttribute('data-perplexity'))] as [string, number]),
  );
  return new Map(cells);
}

test('Taste on WebGPU gives the CPU runtime\'s perplexities', async ({ page }, testInfo) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled({ timeout: 30_000 });
  const gpu = await tasteOn(page, 'webgpu');
  await expect(page.getByText(/On WebGPU on /)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('taste-webgpu.png'), fullPage: true });
  const cpu = await tasteOn(page, 'cpu');
  expect([...gpu.keys()]).toEqual([...cpu.keys()]);
  expect(gpu.size).toBe(4);
  for (const [model, p] of cpu) expect(Math.abs(gpu.get(model)! - p) / p, model).toBeLessThan(1e-4);
});
