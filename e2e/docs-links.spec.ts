import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';

// The studio's help links to the docs the build ships (vite.config.ts, souplabDocs): the link opens the
// page's text, that of docs/ in the repository after a UTF-8 byte order mark (so that τ reads as τ
// from a host that names no charset), in the built app and from the dev server.
test('the help links open the docs shipped with the studio', async ({ page, context }) => {
  await page.goto('/');
  const help = page.locator('.method-help');
  await help.locator('summary').click();
  const link = help.getByTestId('docs-link');
  await expect(link).toHaveAttribute('href', '/docs/analysis.md');
  const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
  await tab.waitForLoadState();
  await expect(tab.locator('body')).toContainText('# Finding the experts: correlations, τ, the set L, the two modes');

  const want = `\uFEFF${readFileSync(new URL('../docs/merge-methods.md', import.meta.url), 'utf8')}`;
  const built = await page.request.get('/docs/merge-methods.md');
  expect(built.status()).toBe(200);
  expect((await built.body()).toString('utf8')).toBe(want);
  const dev = await page.request.get(`${process.env.SOUPLAB_E2E_DEV_URL}/docs/merge-methods.md`);
  expect(dev.status()).toBe(200);
  expect((await dev.body()).toString('utf8')).toBe(want);
});
