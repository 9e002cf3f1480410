/**
 * Issue 23 "Search status that is not true", on the page: a first-ever search counts every point from
 * its first progress line and never calls itself a resume; a two-model grid of step 0.5 (its only plan
 * point the uniform soup, also a baseline) names its best soup; the page says how the objective is formed.
 */
import { expect, test } from '@playwright/test';
import { openDemoSearch } from './searchStorage';

const MODELS = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B'];

test.describe.configure({ timeout: 240_000 });

test('a first search of a two-model grid of step 0.5: counted from the start, never a resume, its best soup the uniform one', async ({ page }) => {
  await openDemoSearch(page, 'demo-CoALM-70B', ['arithmetic', 'prose', 'tool-calls']);
  await page.getByLabel('Grid step').selectOption('0.5');
  await page.getByLabel('Run on').selectOption('cpu');
  const preview = page.getByTestId('search-preview');
  await expect(preview).toHaveText('3 points: 3 baselines, 0 more in the plan, 0 coalitions.');

  // Everything the page says while the search runs, as it changes.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const note = () => {
      const progress = document.querySelector('[data-testid="search-progress"]');
      if (!progress) return;
      const button = [...document.querySelectorAll('.search-view button.primary')].map((b) => b.textContent).join('|');
      seen.push(`${progress.textContent} // ${document.querySelector('[data-testid="search-preview"]')?.textContent ?? ''} // ${button}`);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByRole('button', { name: 'Start the search' }).click();
  await expect(page.getByTestId('search-message')).toHaveText('Search done: 1 plan points; 3 evaluated in this run, 0 taken from the stored results.', { timeout: 180_000 });

  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen.length).toBeGreaterThan(0);
  for (const s of seen) {
    expect(s).not.toContain('already evaluated');
    expect(s).not.toContain('Resume');
    // The whole run from the first count: 3 points, never fewer (before the worker has counted, it says so).
    expect(s).toMatch(/^(\d of 3 points done|Preparing the points…)/);
  }
  expect(seen.some((s) => s.startsWith('3 of 3 points done'))).toBe(true);
  // Every point is stored now: nothing is left to resume.
  await expect(page.getByRole('button', { name: 'Start the search' })).toBeEnabled();

  const best = page.getByRole('table', { name: 'Search baselines' }).getByRole('row', { name: /^Best soup \(of the plan\)/ });
  await expect(best).toContainText(`${MODELS[0]} 0.5, ${MODELS[1]} 0.5`);
  await expect(best).not.toContainText('not evaluated yet');
  // Every button's accessible name starts with the text it shows (its id may follow).
  const exportButton = page.getByRole('table', { name: 'Search trials' }).getByRole('button').first();
  await expect(exportButton).toHaveText('Export this soup');
  await expect(exportButton).toHaveAccessibleName(/^Export this soup \(trial-\d+\)$/);
  const mismatched = await page.locator('button').evaluateAll((buttons) =>
    buttons.flatMap((b) => {
      const text = (b.textContent ?? '').trim().toLowerCase();
      const label = b.getAttribute('aria-label')?.trim().toLowerCase();
      // Icon buttons (×) name what they do; a label must otherwise start with the visible text.
      return label !== undefined && /\w/.test(text) && !label.startsWith(text) ? [`${text} / ${label}`] : [];
    }),
  );
  expect(mismatched).toEqual([]);
  await expect(page.getByTestId('search-objective')).toContainText('perplexity as the mean per-byte probability 100 · 2^(−bits/byte) (%)');
});
