/**
 * Issue 23 "Losing work": what a user finished or typed stays until they remove it, whatever later runs,
 * methods or reloads do.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { dropFile } from './dropFiles';
import { openFreshStudio } from './freshSession';

test.describe.configure({ timeout: 180_000 });

/** Puts a value into the studio's key-value store in IndexedDB, as the page keeps it. */
async function idbPut(page: Page, key: string, value: unknown): Promise<void> {
  await page.evaluate(
    ([k, v]) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('souplab', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('kv', 'readwrite');
          tx.objectStore('kv').put(v, k as string);
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [key, value] as const,
  );
}

test('a cancelled Taste run keeps the finished results of an earlier run; they go only when removed', async ({ page }) => {
  await openFreshStudio(page);
  // An earlier, finished run (as a studio of the last version kept it: the last run alone).
  const earlier = {
    results: [{ model: 'earlier-soup', role: 'soup', seconds: 87, results: [{ name: 'facts', kind: 'multiple_choice', acc: 0.5, acc_norm: 0.75, items: [] }] }],
    soupWeights: { a: 0.5, b: 0.5 },
    soupName: 'earlier-soup',
    backend: 'CPU (f32 reference runtime, in a web worker)',
    problems: [],
    at: 1_700_000_000_000,
  };
  await idbPut(page, 'souplab.taste.results', earlier);
  await page.reload();
  await page.getByRole('tab', { name: 'Taste' }).click();
  const earlierRow = page.getByRole('table', { name: 'Taste scores' }).locator('tr[data-model="earlier-soup"]');
  await expect(earlierRow).toHaveCount(1, { timeout: 30_000 });
  await expect(earlierRow.locator('td[data-task="facts"]')).toHaveText('75.0 %');

  // A long task, so that Cancel lands in the middle of the soup's scoring.
  const text = 'A soup of models is the average of their weights, and the best soup is found by tasting many. '.repeat(3200);
  await dropFile(page, 'Task files', 'long-prose.txt', text);
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(1);
  await page.getByLabel('Run on').selectOption('cpu');
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Taste', exact: true }).click();
  await expect(page.getByRole('progressbar', { name: 'Taste progress' })).toHaveAttribute('aria-valuetext', /Scoring soup \(1 of 4\)/, { timeout: 60_000 });
  // The earlier results stay on screen while the new run goes on…
  await expect(earlierRow).toHaveCount(1);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('alert')).toHaveText('Tasting cancelled; the models scored before it are kept.', { timeout: 30_000 });
  // …and after it is cancelled, and after a reload.
  await expect(earlierRow).toHaveCount(1);
  await page.reload();
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(earlierRow).toHaveCount(1, { timeout: 30_000 });

  // The user removes them: gone, also after a reload.
  await page.getByRole('button', { name: 'Remove these scores' }).click();
  await expect(page.getByRole('table', { name: 'Taste scores' })).toHaveCount(0);
  await page.reload();
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(1, { timeout: 30_000 });
  await expect(page.getByRole('table', { name: 'Taste scores' })).toHaveCount(0);
});

test('a model a method without weights takes out of the merge keeps its typed weight for the methods with weights', async ({ page }) => {
  const [A, B, C] = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B'];
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  const weight = (name: string) => page.getByRole('spinbutton', { name: `Weight of ${name}` });
  await weight(A).fill('0.5');
  await weight(B).fill('0.3');
  await weight(C).fill('0.2');

  // SLERP takes one model besides the base: C goes out of the merge, then in and out again.
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('slerp');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(A);
  const inMerge = page.getByRole('article', { name: C }).getByRole('checkbox', { name: 'In the merge' });
  await inMerge.uncheck();
  await inMerge.check();
  await inMerge.uncheck();
  await expect(page.getByTestId('method-count')).toHaveCount(0);
  // A reload on the way does not lose it either.
  await page.reload();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(page.getByRole('article', { name: C }).getByRole('checkbox', { name: 'In the merge' })).not.toBeChecked();

  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('linear');
  await expect(weight(A)).toHaveValue('0.5');
  await expect(weight(B)).toHaveValue('0.3');
  await expect(weight(C)).toHaveValue('0.2');
});

test('a checkpoint given through the file input is named after a reload as one to pick again; picked again, it has its weight back', async ({ page }) => {
  const file = { name: 'my-model.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(resolve('public/demo/checkpoints/demo-watt-tool-70B/model.safetensors')) };
  const input = page.locator('input[type="file"][accept=".safetensors,.json"]');
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await input.setInputFiles(file);
  await expect(page.getByRole('article')).toHaveCount(4);
  await page.getByRole('spinbutton', { name: 'Weight of my-model' }).fill('0.4');

  const toPick = page.getByRole('region', { name: 'Checkpoints to pick again' });
  for (let reload = 0; reload < 2; reload++) {
    await page.reload();
    await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
    await expect(toPick).toContainText('Pick again: my-model.');
    await expect(toPick).toContainText('weight and method settings are kept');
  }
  await input.setInputFiles(file);
  await expect(page.getByRole('article')).toHaveCount(4);
  await expect(page.getByRole('spinbutton', { name: 'Weight of my-model' })).toHaveValue('0.4');
  await expect(toPick).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(toPick).toContainText('Pick again: my-model.');
  await toPick.getByRole('button', { name: 'Forget it' }).click();
  await expect(toPick).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(toPick).toHaveCount(0);
});
