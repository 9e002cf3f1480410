import { expect, test } from '@playwright/test';
import { openFreshStudio } from './freshSession';

// Issue 23: the objective sums like with like. A Taste run on the demo (three multiple-choice tasks and
// the perplexity task "prose") sent to Trials must rank by percentages only, perplexity entering as the
// mean per-byte probability 100 · 2^(−bits/byte) %, and the Trials view must say so.

// A busy 2-core CI machine: the page scores four models on the CPU.
test.describe.configure({ timeout: 300_000 });

test('Taste → Send to Trials: the objective adds percentages only and the Trials view states the rule', async ({ page }, testInfo) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(4);
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled({ timeout: 30_000 });
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('button', { name: 'Taste', exact: true }).click();
  const table = page.getByRole('table', { name: 'Taste scores' });
  await expect(table.locator('tbody tr')).toHaveCount(4, { timeout: 150_000 });
  const send = page.getByRole('button', { name: 'Send to Trials' });
  await expect(send).toBeEnabled({ timeout: 150_000 });

  // The expected objective of each model, from the raw scores the Taste table carries (acc_norm, the
  // default metric, and bits per byte): the formula, not the studio's code.
  const rows = await table.locator('tbody tr').evaluateAll((trs) =>
    trs.map((r) => ({
      model: r.getAttribute('data-model')!,
      accNorm: [...r.querySelectorAll('td[data-acc-norm]')].map((td) => Number(td.getAttribute('data-acc-norm'))),
      bitsPerByte: [...r.querySelectorAll('td[data-bits-per-byte]')].map((td) => Number(td.getAttribute('data-bits-per-byte'))),
    })),
  );
  expect(rows.map((r) => r.model)[0]).toBe('soup');
  const expected = new Map<string, number>();
  for (const r of rows) {
    expect(r.accNorm, r.model).toHaveLength(3);
    expect(r.bitsPerByte, r.model).toHaveLength(1);
    expect(r.bitsPerByte[0], r.model).toBeGreaterThan(0);
    expected.set(r.model, r.accNorm.reduce((a, x) => a + 100 * x, 0) + r.bitsPerByte.reduce((a, b) => a + 100 * Math.pow(2, -b), 0));
  }

  await send.click();
  await expect(page.getByRole('tab', { name: 'Trials' })).toHaveAttribute('aria-selected', 'true');
  const ranked = page.locator('.ranked-table tbody tr');
  await expect(ranked).toHaveCount(4);
  const shown = await ranked.evaluateAll((trs) => trs.map((r) => ({ id: r.querySelector('th[scope="row"]')!.textContent!.trim(), objective: r.querySelector('td strong')!.textContent!.trim() })));
  expect(shown.map((s) => s.id).sort()).toEqual([...expected.keys()].sort());
  for (const s of shown) {
    // Shown to 2 decimals, from scores written to 8 significant digits.
    expect(Math.abs(Number(s.objective) - expected.get(s.id)!), `${s.id}: objective ${s.objective}, want ${expected.get(s.id)}`).toBeLessThan(0.006);
  }
  // Ranked best first by that objective.
  const order = [...expected.entries()].sort((a, b) => b[1] - a[1]).map(([m]) => m);
  expect(shown.map((s) => s.id)).toEqual(order);
  // The page says how the scores were put on one scale.
  await expect(page.getByText('Scale: scores from Taste on all items of each task, each a percentage: multiple choice as acc_norm (%), perplexity as the mean per-byte probability 100 · 2^(−bits/byte) (%).')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('taste-to-trials.png'), fullPage: true });
});
