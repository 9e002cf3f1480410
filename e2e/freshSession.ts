import type { Page } from '@playwright/test';

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
