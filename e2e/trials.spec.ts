import { test, expect } from '@playwright/test';
import { dropFile } from './dropFiles';
import { openFreshStudio } from './freshSession';

/**
 * Synthetic trials (not real results), generated from a documented rule: a soup with normalised
 * weights w scores, in category c, base_c − scale_c·Σⱼ(wⱼ − t_cⱼ)², each category with its own best
 * mix t_c. Rows: every non-empty coalition as a uniform soup, plus the paper's grid (step 0.1).
 */
const EXPERTS = ['xLAM-2-70b-fc-r (FC)', 'CoALM-70B', 'watt-tool-70B (FC)'];
const CATEGORIES: { name: string; base: number; scale: number; target: number[] }[] = [
  { name: 'Live', base: 70, scale: 40, target: [0.3, 0.1, 0.6] },
  { name: 'Multi Turn', base: 60, scale: 30, target: [0.8, 0.1, 0.1] },
  { name: 'Irrelevance', base: 80, scale: 20, target: [0.2, 0.7, 0.1] },
];

interface Generated {
  csv: string;
  rows: { id: string; weights: number[]; scores: number[] }[];
}

function trialsCsv(models: string[]): Generated {
  const n = models.length;
  const mixes: number[][] = [];
  for (let mask = 1; mask < 1 << n; mask++) mixes.push(models.map((_, i) => (mask & (1 << i) ? 1 : 0)));
  const grid = (left: number, prefix: number[]): void => {
    if (prefix.length === n - 1) {
      if (left >= 1) mixes.push([...prefix, left].map((u) => u / 10));
      return;
    }
    for (let u = 1; u <= left - (n - 1 - prefix.length); u++) grid(left - u, [...prefix, u]);
  };
  grid(10, []);
  const rows = mixes.map((w, i) => {
    const s = w.reduce((a, b) => a + b, 0);
    const scores = CATEGORIES.map((c) => {
      const d = w.reduce((acc, x, j) => acc + (x / s - c.target[j]) ** 2, 0);
      return Number((c.base - c.scale * d).toFixed(3));
    });
    return { id: `soup-${String(i + 1).padStart(3, '0')}`, weights: w, scores };
  });
  const lines = [['recipe', ...models.map((m) => `weight: ${m}`), ...CATEGORIES.map((c) => c.name)].join(',')];
  for (const r of rows) lines.push([r.id, ...r.weights.map(String), ...r.scores.map(String)].join(','));
  return { csv: lines.join('\n') + '\n', rows };
}

/** The best row by the sum of the chosen categories, computed here independently of the engine. */
function bestBy(rows: Generated['rows'], cats: number[]): Generated['rows'][number] & { objective: number } {
  const scored = rows.map((r) => ({ ...r, objective: cats.reduce((s, c) => s + r.scores[c], 0) }));
  return scored.reduce((a, b) => (b.objective > a.objective ? b : a));
}

test.beforeEach(async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Trials' }).click();
});

test('empty state explains how to get trials', async ({ page }, testInfo) => {
  await expect(page.getByRole('heading', { name: 'No trials yet' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Trials' })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('trials-empty.png'), fullPage: true });
});

test('three experts: ranking, ternary plot, baselines, Shapley values, and the best weights go to the soup', async ({ page }, testInfo) => {
  const gen = trialsCsv(EXPERTS);
  await dropFile(page, 'Trials', 'synthetic-trials.csv', gen.csv);
  await expect(page.getByText('synthetic-trials.csv')).toBeVisible();
  await expect(page.getByText(/43 trials over 3 ingredients/)).toBeVisible();
  const expected = bestBy(gen.rows, [0, 1, 2]);
  const sum = expected.weights.reduce((a, b) => a + b, 0);
  const best = page.locator('.ranked-table tbody tr').first();
  await expect(best.locator('th')).toHaveText(expected.id);
  // Cells: rank, objective, then one weight per ingredient.
  await expect(best.locator('td').nth(1)).toHaveText(expected.objective.toFixed(2));
  for (let j = 0; j < 3; j++) await expect(best.locator('td').nth(2 + j)).toHaveText((expected.weights[j] / sum).toFixed(2));
  await expect(page.locator('[data-chart="ternary"] circle.ternary-point')).toHaveCount(43);
  const baselines = page.locator('.baselines-table');
  await expect(baselines).toContainText('Uniform soup of the experts');
  await expect(baselines.locator('tr', { hasText: 'Uniform soup of the experts' })).toContainText('soup-007');
  const single = bestBy(gen.rows.filter((r) => r.weights.filter((w) => w > 0).length === 1), [0, 1, 2]);
  await expect(baselines.locator('tr', { hasText: 'Best single model' })).toContainText(EXPERTS[single.weights.indexOf(1)]);
  await expect(baselines.locator('tr', { hasText: 'Best single model' })).toContainText(single.objective.toFixed(2));
  await expect(page.getByRole('img', { name: /Shapley values: xLAM-2-70b-fc-r \(FC\) / })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('trials-ternary.png'), fullPage: true });
  await page.getByLabel('Theme').selectOption('dark');
  await page.screenshot({ path: testInfo.outputPath('trials-dark.png'), fullPage: true });
  await page.setViewportSize({ width: 600, height: 900 });
  // Charts follow the new width a frame or two later (ResizeObserver).
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath('trials-600px.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByLabel('Theme').selectOption('light');

  // The objective can be one category: the ranking follows.
  await page.getByRole('checkbox', { name: 'Live' }).uncheck();
  await page.getByRole('checkbox', { name: 'Multi Turn' }).uncheck();
  const irrelevance = bestBy(gen.rows, [2]);
  await expect(best.locator('th')).toHaveText(irrelevance.id);
  await expect(best.locator('td').nth(1)).toHaveText(irrelevance.objective.toFixed(2));
  await page.getByRole('button', { name: 'Every category' }).click();
  await expect(best.locator('th')).toHaveText(expected.id);

  await page.getByRole('tab', { name: 'Scores' }).click();
  await expect(page.getByText('with the best evaluated trial’s weights')).toBeVisible();
  await page.getByRole('button', { name: 'Use these experts' }).click();
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('souplab.soup') ?? '{}'));
  const byName = Object.fromEntries(saved.state.proposal.experts.map((m: string, i: number) => [m, saved.state.proposal.weights[i]]));
  EXPERTS.forEach((m, j) => expect(byName[m]).toBeCloseTo(expected.weights[j] / sum, 9));

  // Trials survive a reload.
  await page.getByRole('tab', { name: 'Trials' }).click();
  await page.reload();
  await expect(page.getByText(/43 trials over 3 ingredients/)).toBeVisible();
});

test('two ingredients: a line over w₁; missing coalitions are named; a broken file is refused', async ({ page }, testInfo) => {
  const csv = trialsCsv(['model-a', 'model-b'])
    .csv.split('\n')
    .filter((l) => !l.startsWith('soup-002,'))
    .join('\n');
  await dropFile(page, 'Trials', 'two.csv', csv);
  await expect(page.locator('[data-chart="line"]')).toBeVisible();
  await expect(page.locator('[data-chart="line"] .recharts-line-dot')).toHaveCount(11);
  await expect(page.locator('.shapley-missing')).toContainText('model-b alone');
  await page.screenshot({ path: testInfo.outputPath('trials-line.png'), fullPage: true });
  await dropFile(page, 'Trials', 'no-weights.csv', 'recipe,score\na,1\n');
  await expect(page.getByRole('alert')).toHaveText(/^no-weights\.csv: no weight columns/);
  await expect(page.locator('[data-chart="line"]')).toBeVisible();
});

test('the loop: download the grid from Scores, add (synthetic) scores, import it as trials', async ({ page }) => {
  await page.getByRole('tab', { name: 'Scores' }).click();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /Download grid \(37 soups, CSV\)/ }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('grid-index.csv');
  const path = await file.path();
  const text = await import('node:fs').then((fs) => fs.readFileSync(path, 'utf8'));
  const [header, ...lines] = text.trim().split('\n');
  const weightColumns = header.split(',').filter((h) => h.startsWith('weight: '));
  expect(weightColumns.map((h) => h.slice('weight: '.length).replace(/^"|"$/g, '')).sort()).toEqual([...EXPERTS].sort());
  expect(lines).toHaveLength(37);
  // Fill in scores by the synthetic rule (one category: the distance to a fixed mix), as an evaluation would.
  const filled = [`${header},Score`];
  for (const line of lines) {
    const cells = line.split(',');
    const w = cells.slice(2).map(Number);
    filled.push(`${line},${(100 - 50 * w.reduce((acc, x, j) => acc + (x - [0.6, 0.2, 0.2][j]) ** 2, 0)).toFixed(4)}`);
  }
  await page.getByRole('tab', { name: 'Trials' }).click();
  await dropFile(page, 'Trials', 'grid-index.csv', filled.join('\n') + '\n');
  await expect(page.getByText(/37 trials over 3 ingredients/)).toBeVisible();
  await expect(page.locator('[data-chart="ternary"] circle.ternary-point')).toHaveCount(37);
  await expect(page.locator('.ranked-table tbody tr').first().locator('td').nth(2)).toHaveText('0.60');
  // The grid holds the uniform soup of the experts but no single models or pairs: Shapley names what is missing.
  await expect(page.locator('.baselines-table tr', { hasText: 'Uniform soup of the experts' })).toContainText('soup-037');
  await expect(page.locator('.shapley-missing')).toContainText('6 are not among the trials');
});

test('the ranked table shows each trial\'s score per category, under headers that are read whole', async ({ page }, testInfo) => {
  const gen = trialsCsv(EXPERTS);
  await dropFile(page, 'Trials', 'synthetic-trials.csv', gen.csv);
  await expect(page.getByText(/43 trials over 3 ingredients/)).toBeVisible();
  const table = page.locator('.ranked-table');
  await expect(table.locator('thead th[scope=colgroup]')).toHaveText(['Weights', 'Scores']);
  const heads = table.locator('thead th.ranked-head');
  await expect(heads).toHaveText([...EXPERTS, ...CATEGORIES.map((c) => c.name)]);
  // Whole names: every header shows all of its text (it wraps instead of being cut with an ellipsis).
  const cut = await heads.evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
  expect(cut).toEqual([]);
  // Rows: rank, objective, the weights, then the categories' scores, as the generator wrote them.
  const expected = bestBy(gen.rows, [0, 1, 2]);
  const best = table.locator('tbody tr').first();
  await expect(best.locator('th')).toHaveText(expected.id);
  const cells = best.locator('td');
  for (let c = 0; c < CATEGORIES.length; c++) await expect(cells.nth(2 + EXPERTS.length + c)).toHaveText(expected.scores[c].toFixed(2));
  // A category left out of the objective keeps its column, marked as not in the objective.
  await page.getByRole('checkbox', { name: 'Live' }).uncheck();
  await expect(heads.filter({ hasText: 'Live' })).toHaveAttribute('title', 'Live (not in the objective)');
  await expect(heads.filter({ hasText: 'Irrelevance' })).toHaveAttribute('title', 'Irrelevance (in the objective)');
  await table.screenshot({ path: testInfo.outputPath('trials-ranked-table.png') });
});
