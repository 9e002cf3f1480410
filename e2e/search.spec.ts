/**
 * Issue 11 §1, §3 in the studio: the Search step on the demo. A small grid over two demo checkpoints on
 * three demo task files, on the CPU runtime in the Search worker. Its trials (kept in IndexedDB) must
 * equal what `souplab search` writes to trials.jsonl for the same checkpoints, tasks, plan and split —
 * a separate process and face. Cancelled mid-way, the page reloaded, the search resumed: only the
 * remaining points are evaluated. The best row exports with the search's evidence in its metadata.
 *
 * Run against the production build: npm run build && npx playwright test e2e/search.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { TrialRecord } from '../src/search/runSearch';
import { openDemoSearch, storedTrials } from './searchStorage';

const CHECKPOINTS = resolve('public/demo/checkpoints');
const TASKS = resolve('public/demo/tasks');
const MODELS = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B'];
const LEFT_OUT = 'demo-CoALM-70B';
/** The studio scores the Taste step's tasks in their order; the CLI in the order given. */
const TASK_FILES = ['arithmetic.jsonl', 'facts.jsonl', 'prose.txt'];
const SKIPPED_TASK = 'tool-calls';
const TOTAL = 11;

/** trials.jsonl holds the records the studio stores. */
type Trial = TrialRecord;

// A busy 2-core CI machine: the CLI runs once (11 points), the page evaluates 11 points in two runs.
test.describe.configure({ timeout: 300_000 });

let expected: Trial[];
let expectedCsv: string;

test.beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), 'souplab-search-e2e-'));
  try {
    execFileSync(
      process.execPath,
      [
        'bin/souplab.js',
        'search',
        '--models',
        MODELS.map((m) => `${m}=${join(CHECKPOINTS, m)}`).join(';'),
        '--tasks',
        TASK_FILES.map((f) => join(TASKS, f)).join(','),
        '--backend',
        'cpu',
        '--out',
        join(out, 'results'),
        '--quiet',
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    expected = readFileSync(join(out, 'results', 'trials.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Trial);
    expectedCsv = readFileSync(join(out, 'results', 'trials.csv'), 'utf8');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // Two models, the paper's grid: each alone, the uniform soup, 0.1/0.9 … 0.9/0.1 (two players have no coalition that is not a baseline).
  expect(expected).toHaveLength(TOTAL);
});

async function setUpSearch(page: Page): Promise<void> {
  await openDemoSearch(page, LEFT_OUT, [SKIPPED_TASK]);
  for (const m of MODELS) await expect(page.getByLabel(`${m} is an expert`)).toBeChecked();
  await expect(page.getByLabel('Grid step')).toHaveValue('0.1');
  await page.getByLabel('Run on').selectOption('cpu');
  await expect(page.getByTestId('search-preview')).toHaveText('11 points: 3 baselines, 8 more in the plan, 0 coalitions.');
  await expect(page.getByTestId('search-fit')).toContainText('Fit check: 2 models');
}

test('a grid search in the studio: trials as the CLI computes them; cancel, reload, resume evaluates only the rest; export the best row with its evidence', async ({ page }) => {
  await setUpSearch(page);
  // The time first, without starting: the evaluator loaded and a warm-up timed; nothing evaluated or stored.
  await page.getByRole('button', { name: 'Estimate the time' }).click();
  await expect(page.getByTestId('search-forecast')).toHaveText(new RegExp(`^Estimate: ${TOTAL} points × [\\d.]+( K)? tokens ≈ .* at [\\d,]+ tokens/s on CPU .*\\(the evaluation alone, from a warm-up\\)\\.$`), { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Estimate the time' })).toBeEnabled();
  expect(await storedTrials(page)).toEqual([]);
  await expect(page.getByTestId('search-started')).toHaveCount(0);
  const start = page.getByRole('button', { name: 'Start the search' });
  await start.click();
  await expect(page.getByTestId('search-started')).toContainText('the models are held in memory', { timeout: 60_000 });
  // The whole plan's time from a warm-up, in the CLI's words, before the first point.
  await expect(page.getByTestId('search-forecast')).toHaveText(new RegExp(`^Estimate: ${TOTAL} points × [\\d.]+( K)? tokens ≈ .* at [\\d,]+ tokens/s on CPU .*\\(the evaluation alone, from a warm-up\\)\\.$`), { timeout: 60_000 });
  const rows = page.getByRole('table', { name: 'Search trials' }).locator('tbody tr');

  // Cancel once a point is in: the finished ones are kept, the rest are not evaluated.
  await expect(rows).not.toHaveCount(0, { timeout: 120_000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('search-message')).toContainText('Search cancelled; every finished point is kept', { timeout: 60_000 });
  const kept = await storedTrials(page);
  expect(kept.length).toBeGreaterThanOrEqual(1);
  expect(kept.length).toBeLessThan(TOTAL);
  await expect(rows).toHaveCount(kept.length);

  // Reload: the search is shown again from IndexedDB, and the form knows what is stored.
  await page.reload();
  await expect(rows).toHaveCount(kept.length, { timeout: 30_000 });
  await expect(page.getByTestId('search-message')).toContainText('Search cancelled');
  await expect(page.getByTestId('search-preview')).toHaveText(
    `11 points: 3 baselines, 8 more in the plan, 0 coalitions; ${kept.length} already evaluated (kept from an earlier run, not evaluated again).`,
    { timeout: 30_000 },
  );
  await page.getByRole('button', { name: 'Resume the search' }).click();
  // Resumed: the estimate prices only the points left.
  await expect(page.getByTestId('search-forecast')).toContainText(`Estimate: ${TOTAL - kept.length} point${TOTAL - kept.length === 1 ? '' : 's'} × `, { timeout: 60_000 });
  await expect(page.getByTestId('search-message')).toHaveText(`Search done: 9 plan points; ${TOTAL - kept.length} evaluated in this run, ${kept.length} taken from the stored results.`, {
    timeout: 120_000,
  });
  await expect(rows).toHaveCount(TOTAL);

  // The kept trials were not evaluated again: their records are the ones stored before the reload.
  const all = await storedTrials(page);
  for (const k of kept) expect(all.find((t) => t.key === k.key)).toEqual(k);

  // The same trials as `souplab search` (same kernels, f32 runtime, split and metric).
  expect(all.map((t) => t.key).sort()).toEqual(expected.map((t) => t.key).sort());
  for (const want of expected) {
    const got = all.find((t) => t.key === want.key)!;
    expect(got.weights).toEqual(want.weights);
    expect([...got.kinds].sort()).toEqual([...want.kinds].sort());
    expect(got.solved).toEqual(want.solved);
    expect(Object.keys(got.tune)).toEqual(Object.keys(want.tune));
    for (const c of Object.keys(want.tune)) {
      expect(got.tune[c]).toBeCloseTo(want.tune[c], 6);
      expect(got.heldOut[c]).toBeCloseTo(want.heldOut[c], 6);
    }
    expect(got.objective).toBeCloseTo(want.objective, 6);
    // The table shows the stored objective.
    await expect(page.locator(`tr[data-key="${want.key}"] td[data-objective]`)).toHaveAttribute('data-objective', String(got.objective));
  }

  // The evidence: the baselines beside the best soup, the chart over the experts' weights.
  const baselines = page.getByRole('table', { name: 'Search baselines' });
  await expect(baselines.getByRole('row', { name: /^Best soup/ })).toBeVisible();
  await expect(page.getByTestId('search-gain')).toContainText('Gain of the best soup over the best single model');
  await expect(page.locator('section[data-chart="line"]')).toBeVisible();
  await expect(page.getByRole('table', { name: 'Category correlations across the single models' })).toBeVisible();
  // The evidence's styles come with its components, not with the Trials view (not opened so far).
  expect(await baselines.locator('td').first().evaluate((td) => getComputedStyle(td).whiteSpace)).toBe('nowrap');

  // trials.csv as the CLI writes it (the times aside: the last column).
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download trials.csv' }).click()]);
  const csv = readFileSync((await download.path())!, 'utf8');
  const withoutTime = (text: string) => text.trim().split('\n').map((l) => l.slice(0, l.lastIndexOf(',')));
  expect(withoutTime(csv)).toEqual(withoutTime(expectedCsv));

  // Export the best row: the soup on screen becomes it, and the output carries the search's evidence.
  const best = page.locator('tr[data-best]');
  await expect(best).toHaveCount(1);
  const bestKey = (await best.getAttribute('data-key'))!;
  await best.getByRole('button', { name: /^Export / }).click();
  await expect(page.getByRole('tab', { name: 'Merge & export' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('search-provenance')).toContainText('of the search');
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /Browser storage/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toBeVisible({ timeout: 60_000 });
  const metadata = await page.evaluate(async () => {
    const out = await (await navigator.storage.getDirectory()).getDirectoryHandle('souplab-output');
    const names: string[] = [];
    for await (const k of (out as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(k);
    const dir = await out.getDirectoryHandle(names.sort().at(-1)!);
    const bytes = new Uint8Array(await (await (await dir.getFileHandle('model.safetensors')).getFile()).arrayBuffer());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    return (JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as { __metadata__: Record<string, string> }).__metadata__;
  });
  const provenance = JSON.parse(metadata['souplab.search']) as { weights: Record<string, number>; objective: number };
  const bestTrial = all.find((t) => t.key === bestKey)!;
  expect(provenance.weights).toEqual(Object.fromEntries(MODELS.map((m, i) => [m, bestTrial.weights[i]])));
  expect(provenance.objective).toBe(bestTrial.objective);
  expect(metadata['souplab.recipe']).toContain('merge_method: linear');

  // The trials open in the Trials view.
  await page.getByRole('tab', { name: 'Search' }).click();
  await page.getByRole('button', { name: 'Open in Trials' }).click();
  await expect(page.locator('.trials-summary')).toContainText(`${TOTAL} trials over 2 ingredients (${MODELS.join(', ')})`);
});

test('a page closed mid-search: the finished points are kept, the search is shown as interrupted and resumes', async ({ page }) => {
  await setUpSearch(page);
  await page.getByRole('button', { name: 'Start the search' }).click();
  const rows = page.getByRole('table', { name: 'Search trials' }).locator('tbody tr');
  await expect(rows).not.toHaveCount(0, { timeout: 120_000 });
  // No cancel: the page goes away with the worker in the middle of a point.
  await page.reload();
  await expect(page.getByTestId('search-message')).toContainText('This search was interrupted (the page was closed or reloaded while it ran)', { timeout: 30_000 });
  const kept = await storedTrials(page);
  expect(kept.length).toBeGreaterThanOrEqual(1);
  expect(kept.length).toBeLessThan(TOTAL);
  await expect(rows).toHaveCount(kept.length);
  await expect(page.getByTestId('search-preview')).toContainText(`; ${kept.length} already evaluated`, { timeout: 30_000 });
  await page.getByRole('button', { name: 'Resume the search' }).click();
  // Resumed: the estimate prices only the points left.
  await expect(page.getByTestId('search-forecast')).toContainText(`Estimate: ${TOTAL - kept.length} point${TOTAL - kept.length === 1 ? '' : 's'} × `, { timeout: 60_000 });
  await expect(page.getByTestId('search-message')).toHaveText(`Search done: 9 plan points; ${TOTAL - kept.length} evaluated in this run, ${kept.length} taken from the stored results.`, {
    timeout: 120_000,
  });
  const all = await storedTrials(page);
  expect(all).toHaveLength(TOTAL);
  for (const k of kept) expect(all.find((t) => t.key === k.key)).toEqual(k);
});
