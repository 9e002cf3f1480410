/**
 * Issue 23 "Experts one can actually soup", on the page: BFCL v4-like tables start from the models whose
 * checkpoints are loaded, else from the open-weight rows; an expert set the grid cannot weigh gets a
 * smaller one proposed.
 */
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { parseScoreTable } from '../src/analysis';
import { dropFile } from './dropFiles';
import { openFreshStudio } from './freshSession';

const BFCL = readFileSync('public/demo/bfcl-v3/data_overall.csv', 'utf8');
const table = parseScoreTable({ name: 'bfcl.csv', text: BFCL });
const licenseOf = (m: string) => table.lineage.license!.values[table.models.indexOf(m)];

const expertChips = (page: Page) => page.locator('[aria-label="Expert set"] [data-expert]').evaluateAll((els) => els.map((e) => e.getAttribute('data-expert')!));

test('a leaderboard of mostly closed models: candidates are the loaded checkpoints, else the open-weight rows; too many experts get a smaller set', async ({ page }) => {
  await openFreshStudio(page);
  // The demo checkpoints are loaded (a first visit): the table's rows for them are the candidates.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await page.getByRole('tab', { name: 'Scores' }).click();
  await dropFile(page, 'Scores', 'bfcl.csv', BFCL);
  const legend = page.getByRole('group', { name: /^Candidates/ }).locator('legend');
  await expect(legend).toContainText(`(3 of ${table.models.length} models)`);
  await expect(page.getByTestId('default-candidates')).toHaveText(/^Candidates to start with: the 3 models whose checkpoints are loaded in Ingredients \(matched by name\)/);

  // No checkpoints: the rows the License column marks open-weight; no closed API model is an expert.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('button', { name: 'Remove all' }).click();
  await page.getByRole('tab', { name: 'Scores' }).click();
  const open = table.models.filter((m) => licenseOf(m) !== '' && licenseOf(m) !== 'Proprietary');
  await expect(legend).toContainText(`(${open.length} of ${table.models.length} models)`);
  await expect(page.getByTestId('default-candidates')).toContainText('open-weight models');
  const experts = await expertChips(page);
  expect(experts.length).toBeGreaterThan(0);
  for (const e of experts) expect(licenseOf(e), e).not.toBe('Proprietary');

  // Every model a candidate: more experts than the grid can weigh: a smaller set is proposed, and it soups.
  await page.getByRole('group', { name: /^Candidates/ }).getByRole('button', { name: 'All', exact: true }).click();
  const many = await expertChips(page);
  expect(many.length).toBeGreaterThan(5);
  const smaller = page.getByTestId('smaller-expert-set');
  await expect(smaller).toContainText(`cannot weigh ${many.length} experts`);
  await smaller.getByRole('button', { name: 'Use these 4 as candidates' }).click();
  const few = await expertChips(page);
  expect(few.length).toBeGreaterThanOrEqual(2);
  expect(few.length).toBeLessThanOrEqual(4);
  await expect(page.getByRole('button', { name: /^Download grid \(\d+ soups/ })).not.toHaveText(/\(1 soups/);
  await expect(smaller).toHaveCount(0);
});

test('the note that the best trial is a soup of other models belongs to trials of this table', async ({ page }) => {
  await openFreshStudio(page);
  const note = page.getByText('(the best trial is a soup of other models)');
  // Trials over two of the demo table's models (not its expert set): the note is true of them.
  await page.getByRole('tab', { name: 'Trials' }).click();
  const ofThisTable = ['recipe,weight: xLAM-2-70b-fc-r (FC),weight: watt-tool-70B (FC),A,B', 'soup-1,0.5,0.5,60,50', 'soup-2,0.7,0.3,61,52'].join('\n');
  await dropFile(page, 'Trials', 'trials-a.csv', ofThisTable);
  await expect(page.getByText(/2 trials over 2 ingredients/)).toBeVisible({ timeout: 30_000 });
  await page.getByRole('tab', { name: 'Scores' }).click();
  await expect(note).toBeVisible({ timeout: 30_000 });
  // Trials of models this table does not have say nothing about its experts: no note.
  await page.getByRole('tab', { name: 'Trials' }).click();
  const ofAnother = ['recipe,weight: model-x,weight: model-y,A,B', 'soup-1,0.5,0.5,60,50', 'soup-2,0.7,0.3,61,52'].join('\n');
  await dropFile(page, 'Trials', 'trials-b.csv', ofAnother);
  await expect(page.getByText(/2 trials over 2 ingredients \(model-x, model-y\)/)).toBeVisible({ timeout: 30_000 });
  await page.getByRole('tab', { name: 'Scores' }).click();
  await expect(page.getByRole('button', { name: 'Use these experts' })).toBeVisible();
  await expect(note).toHaveCount(0);
});
