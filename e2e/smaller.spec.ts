/** Issue 23 "Smaller": weights are shown with at most 4 significant digits, and kept in full. */
import { expect, test } from '@playwright/test';
import { openFreshStudio } from './freshSession';

test('a weight of 0.333333333 shows as 0.3333 in Merge & export and Taste, and is kept in full', async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('spinbutton', { name: 'Weight of demo-CoALM-70B' }).fill('0.333333333');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  const cell = page.locator('td[data-weight="0.333333333"]');
  await expect(cell).toHaveText('0.3333');
  await expect(cell).toHaveAttribute('title', '0.333333333');
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(page.getByText(/demo-CoALM-70B × 0\.3333[,)]/)).toBeVisible();
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('souplab.soup') ?? '{}'));
  expect(saved.state.weights['demo-CoALM-70B']).toBe(0.333333333);
});

test('"One .safetensors file" where the save dialog cannot open (headless Chromium): the page says so and offers browser storage, then download', async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /One \.safetensors file/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  const note = page.getByTestId('picker-note');
  await expect(note).toContainText('The save dialog did not open or was closed, so nothing was written.', { timeout: 30_000 });
  await note.getByRole('button', { name: 'Use browser storage' }).click();
  await expect(page.getByRole('radio', { name: /Browser storage/ })).toBeChecked();
  await expect(note).toHaveCount(0);
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('link', { name: /^soup-.*\.safetensors$/ }).first()).toBeVisible();
});
