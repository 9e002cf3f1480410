/**
 * Issue 12 §3 in the studio: soups kept in browser storage are listed with their sizes, downloadable
 * under the soup's name and deletable; a merge that would not fit the storage quota is refused with
 * the numbers before anything is written; negative weights are shown as the extrapolation they are and
 * need a confirmation; a checkpoint of another model (the real burn_mnist fixture) among llama-shaped
 * ones gets one lead line and a marked card; the page loads without a 404 (favicon).
 *
 * Run against the production build: npm run build && npx playwright test e2e/merge-storage.spec.ts
 */
import { expect, test, type Page } from '@playwright/test';
import { storedFolders } from './browserStorage';

const FIXTURES = new URL('../../shared/fixtures/', import.meta.url).pathname;
const DEMO = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B'];
/** The soup's name: its models', then when it was made. */
const SOUP = 'soup-demo-xLAM-2-70b-fc-r\\+demo-watt-tool-70B\\+demo-CoALM-70B-\\d{4}-\\d\\d-\\d\\d-\\d{6}';
const CHECKPOINT_INPUT = 'input[accept=".safetensors,.json"]';

/** A fresh studio with the three demo checkpoints (llama-shaped, BF16) as ingredients. */
async function demoStart(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(page.getByText('Headers fit together')).toBeVisible();
}

async function mergeIntoStorage(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /Browser storage/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
}

test('soups in browser storage: listed with sizes, downloads named after the soup, deleted on request; the page has no 404', async ({ page }) => {
  const missing: string[] = [];
  page.on('response', (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  await demoStart(page);
  await mergeIntoStorage(page);
  const result = page.getByRole('status').filter({ hasText: 'Verified' });
  await expect(result).toBeVisible({ timeout: 60_000 });

  // The result's download is named after the soup, not model.safetensors.
  const link = result.getByRole('link', { name: /\.safetensors$/ });
  await expect(link).toHaveAttribute('download', new RegExp(`^${SOUP}\\.safetensors$`));
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toMatch(new RegExp(`^${SOUP}\\.safetensors$`));

  const storage = page.getByRole('region', { name: 'In browser storage' });
  const first = (await storedFolders(page))[0];
  expect(first).toMatch(new RegExp(`^${SOUP}$`));
  const size = await page.evaluate(async (folder) => {
    const d = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('souplab-output')).getDirectoryHandle(folder);
    return (await (await d.getFileHandle('model.safetensors')).getFile()).size;
  }, first);
  // The model file's line gives its size (217 KB here: the demo soup is about 217,000 bytes).
  const soupItem = storage.getByRole('listitem', { name: first });
  await expect(soupItem.getByRole('listitem').filter({ hasText: /\.safetensors / })).toHaveText(new RegExp(`^${SOUP}\\.safetensors ${Math.round(size / 1000)} KB$`));
  await expect(soupItem.getByRole('button', { name: `Delete ${first}` })).toBeEnabled();
  await expect(storage.getByTestId('storage-usage')).toContainText(/^1 soup, .* This site uses .* of the .* the browser allows it\.$/);

  // A second soup (another second, another folder), then the first deleted.
  await page.waitForTimeout(1100);
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(storage.getByRole('listitem', { name: new RegExp(`^${SOUP}$`) })).toHaveCount(2, { timeout: 60_000 });
  page.once('dialog', (d) => void d.accept());
  await storage.getByRole('button', { name: `Delete ${first}` }).click();
  await expect(storage.getByRole('listitem', { name: new RegExp(`^${SOUP}$`) })).toHaveCount(1);
  await expect(storage.getByRole('listitem', { name: first })).toHaveCount(0);
  const left = await storedFolders(page);
  expect(left).toHaveLength(1);
  expect(left).not.toContain(first);

  expect(missing).toEqual([]);
});

test('a soup that would not fit the storage quota is refused with the numbers, before anything is written', async ({ page }) => {
  // A browser near its quota: 5 MB allowed, 4.95 MB used.
  await page.addInitScript(() => {
    Object.defineProperty(StorageManager.prototype, 'estimate', { value: async () => ({ quota: 5_000_000, usage: 4_950_000 }) });
  });
  await demoStart(page);
  await mergeIntoStorage(page);
  await expect(page.getByRole('alert')).toHaveText(
    /^Not enough browser storage for this soup: it needs 1\.\d\d MB, and 50\.0 KB is free \(4\.95 MB of this site's 5\.00 MB used\)\. Delete stored soups below, or export to a folder or file instead\.$/,
  );
  expect(await storedFolders(page)).toEqual([]);
});

test('negative weights: the extrapolation in numbers, Merge only after confirming; weights adding up to 0 stay blocked', async ({ page }) => {
  await demoStart(page);
  for (const [i, w] of ['-1', '0.3', '0.2'].entries()) await page.getByRole('spinbutton', { name: `Weight of ${DEMO[i]}` }).fill(w);
  await expect(page.getByText(/^Negative weight: demo-xLAM-2-70b-fc-r \(−1\)\. Normalised, the shares become demo-xLAM-2-70b-fc-r 200 %, demo-watt-tool-70B −60 %, demo-CoALM-70B −40 %/)).toBeVisible();
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  const warning = page.getByRole('region', { name: 'This soup extrapolates' });
  await expect(warning.getByRole('alert')).toContainText('an extrapolation beyond the models, not an average of them');
  const merge = page.getByRole('button', { name: 'Merge', exact: true });
  await expect(merge).toBeDisabled();
  await warning.getByLabel(/I mean these negative weights/).check();
  await expect(merge).toBeEnabled();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /Browser storage/ }).check();
  await merge.click();
  await expect(page.getByText(/^Verified: 1 file/)).toBeVisible({ timeout: 60_000 });

  // Other weights: the confirmation does not carry over.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('spinbutton', { name: `Weight of ${DEMO[1]}` }).fill('0.5');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(warning.getByLabel(/I mean these negative weights/)).not.toBeChecked();
  await expect(merge).toBeDisabled();

  // Adding up to 0 (−1 + 0.5 + 0.5): blocked, whatever is confirmed.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('spinbutton', { name: `Weight of ${DEMO[2]}` }).fill('0.5');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(page.getByText('The weights add up to 0, so they cannot be normalised.')).toBeVisible();
  await expect(merge).toBeDisabled();
  await expect(warning).toHaveCount(0);
});

test('a checkpoint of another model: one lead line naming it, its card marked, the per-tensor problems folded', async ({ page }) => {
  await demoStart(page);
  await page.locator(CHECKPOINT_INPUT).setInputFiles(`${FIXTURES}burn_mnist.safetensors`);
  await expect(page.getByRole('article')).toHaveCount(4);
  const preflight = page.getByRole('region', { name: 'Pre-flight check' });
  const lead = preflight.locator('li.lead');
  await expect(lead).toHaveText(['burn_mnist: a different model — no tensors in common with the others']);
  const details = preflight.locator('details', { hasText: 'per-tensor problems that follow from this' });
  await expect(details).not.toHaveAttribute('open');
  await expect(details.locator('summary')).toHaveText(/^\d+ per-tensor problems that follow from this$/);

  const card = page.getByRole('article', { name: 'burn_mnist' });
  await expect(card).toHaveAttribute('data-mismatch', 'different-model');
  await expect(card).toHaveAccessibleDescription('different model burn_mnist: a different model — no tensors in common with the others');
  for (const n of DEMO) await expect(page.getByRole('article', { name: n })).not.toHaveAttribute('data-mismatch');
  await expect(page.getByText(/The pre-flight check found \d+ problems/)).toBeVisible();
});
