import { expect, type Page } from '@playwright/test';

/** Opens the studio as a first-time visitor: no saved options, tables or file handles. */
export async function openFreshStudio(page: Page): Promise<void> {
  await page.goto('/');
  await page.evaluate(async () => {
    localStorage.clear();
    for (const name of ['souplab', 'souplab-search']) {
      await new Promise<void>((resolve) => {
        const req = indexedDB.deleteDatabase(name);
        req.onsuccess = req.onerror = req.onblocked = () => resolve();
      });
    }
  });
  await page.reload();
}

/** Empties the Ingredients view of the demo checkpoints a first visit loads (three cards). */
export async function removeDemoIngredients(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('button', { name: 'Remove all' }).click();
  await expect(page.getByRole('article')).toHaveCount(0);
}
