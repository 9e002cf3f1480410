import { test, expect, type Page } from '@playwright/test';

/** A score table generated for the test: 30 models, 5 categories (two correlated pairs and a noise column). */
function generatedCsv(): string {
  const rows = ['Model,Base Model,Reasoning,Maths,Coding,Debugging,Trivia,Average'];
  for (let i = 0; i < 30; i++) {
    const a = (i * 37) % 30;
    const b = (i * 11) % 30;
    const noise = (i * 53 + 7) % 30;
    const cells = [40 + a, 42 + a + (i % 3), 30 + b, 31 + b + (i % 2), 50 + noise];
    const avg = cells.reduce((s, v) => s + v, 0) / cells.length;
    rows.push([`gen-model-${i}`, i % 2 ? 'llama-3-8b' : 'mistral-7b', ...cells.map(String), avg.toFixed(3)].join(','));
  }
  return rows.join('\n') + '\n';
}

async function dropFile(page: Page, area: string, name: string, text: string): Promise<void> {
  await page.evaluate(
    ({ area, name, text }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], name, { type: 'text/csv' }));
      const el = document.querySelector(`section[aria-label="${area}"]`);
      if (!el) throw new Error(`no drop area "${area}"`);
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { area, name, text },
  );
}

const lowCells = (page: Page) => page.locator('[role=gridcell][data-low]');

test.beforeEach(async ({ page }) => {
  await page.goto('/');
  await page.evaluate(async () => {
    localStorage.clear();
    await new Promise<void>((resolve) => {
      const req = indexedDB.deleteDatabase('souplab');
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    });
  });
  await page.reload();
});

test('the demo loads: BFCL v3 heatmap, attribution, the three 70B experts', async ({ page }, testInfo) => {
  await expect(page.getByRole('tab', { name: 'Scores' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByText('Berkeley Function Calling Leaderboard v3').first()).toBeVisible();
  await expect(page.getByText('Apache-2.0', { exact: false }).first()).toBeVisible();
  const grid = page.getByRole('grid', { name: /Correlation heatmap/ });
  await expect(grid).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(14 * 14);
  const set = page.getByLabel('Expert set');
  for (const m of ['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B']) await expect(set.locator(`[data-expert="${m}"]`)).toBeVisible();
  await expect(page.getByText("demo: the paper's 70B set")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-demo.png'), fullPage: true });
});
