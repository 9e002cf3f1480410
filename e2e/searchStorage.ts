/** The Search step's common moves in the e2e specs: set it up on the demo, read what it stored. */
import { expect, type Page } from '@playwright/test';
import { SEARCH_DB } from '../src/browser/searchDb';
import type { TrialRecord } from '../src/search/runSearch';
import { openFreshStudio } from './freshSession';

/** The trials the studio's Search step keeps in IndexedDB (every search's, in the store's key order). */
export const storedTrials = (page: Page): Promise<TrialRecord[]> =>
  page.evaluate(
    (db) =>
      new Promise<TrialRecord[]>((resolve, reject) => {
        const open = indexedDB.open(db);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('trials').objectStore('trials').getAll();
          req.onsuccess = () => {
            open.result.close();
            resolve((req.result as { record: TrialRecord }[]).map((r) => r.record));
          };
          req.onerror = () => reject(req.error);
        };
      }),
    SEARCH_DB,
  );

/**
 * A first-time visitor's studio on the Search step over the demo: its three checkpoints listed, `leftOut`
 * taken out of the search and the tasks named in `skippedTasks` unticked.
 */
export async function openDemoSearch(page: Page, leftOut: string, skippedTasks: string[]): Promise<void> {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('tab', { name: 'Search' }).click();
  await expect(page.locator('.search-models tbody tr')).toHaveCount(3, { timeout: 30_000 });
  await page.getByLabel(`${leftOut} in the search`).uncheck();
  for (const t of skippedTasks) await page.locator('.search-task', { hasText: t }).getByRole('checkbox').uncheck();
}
