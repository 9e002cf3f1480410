/**
 * Issue 20 in the studio: the Search step exports its plan for a cluster (index.csv for `souplab search
 * --plan`, a recipe per point, search.json) and imports a results folder's trials.jsonl back to show the
 * report, Shapley values and chart. The results come from a real external-evaluator search
 * (`souplab search --evaluator-cmd 'souplab eval … --output-path {out}'`, two local jobs).
 *
 * Run against the production build: npm run build && npx playwright test e2e/search-cluster.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { listPoints, pointKey } from '../src/search/points';
import type { TrialRecord } from '../src/search/runSearch';
import type { SearchEvidence } from '../src/search/evidence';
import { openDemoSearch } from './searchStorage';

const CHECKPOINTS = resolve('public/demo/checkpoints');
const TASKS = resolve('public/demo/tasks');
const MODELS = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B'];
const LEFT_OUT = 'demo-CoALM-70B';
const TASK_FILES = ['arithmetic.jsonl', 'facts.jsonl', 'prose.txt'];

test.describe.configure({ timeout: 300_000 });

let out: string;
let trials: TrialRecord[];
let evidence: SearchEvidence;

test.beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'souplab-cluster-e2e-'));
  const souplab = `${process.execPath} ${resolve('bin/souplab.js')}`;
  execFileSync(
    process.execPath,
    [
      'bin/souplab.js',
      'search',
      '--models',
      MODELS.map((m) => `${m}=${join(CHECKPOINTS, m)}`).join(';'),
      '--backend',
      'cpu',
      '--jobs',
      '2',
      '--out',
      join(out, 'results'),
      '--quiet',
      '--evaluator-cmd',
      `${souplab} eval {model} --tasks ${TASK_FILES.map((f) => join(TASKS, f)).join(',')} --backend cpu --quiet --output-path {out} > /dev/null`,
    ],
    { encoding: 'utf8', timeout: 240_000 },
  );
  trials = readFileSync(join(out, 'results', 'trials.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrialRecord);
  evidence = JSON.parse(readFileSync(join(out, 'results', 'evidence.json'), 'utf8')) as SearchEvidence;
  expect(trials).toHaveLength(11);
});

test.afterAll(() => rmSync(out, { recursive: true, force: true }));

test('the plan exported for a cluster lists the points the search evaluates; its results imported show the evidence, Shapley values and chart', async ({ page }) => {
  // The folder picker writes into the origin's private file system, where the test reads the files back.
  await page.addInitScript(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () => {
      const root = await navigator.storage.getDirectory();
      return root.getDirectoryHandle('cluster-plan', { create: true });
    };
  });
  await openDemoSearch(page, LEFT_OUT, ['tool-calls']);
  await page.getByLabel('Run on').selectOption('cpu');
  await expect(page.getByTestId('search-preview')).toHaveText('11 points: 3 baselines, 8 more in the plan, 0 coalitions.');
  await page.getByRole('button', { name: 'Export the plan for a cluster' }).click();
  await expect(page.getByTestId('cluster-message')).toHaveText('Wrote 11 recipes, index.csv and search.json into cluster-plan.');
  const files = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('cluster-plan');
    const text = async (d: FileSystemDirectoryHandle, name: string) => (await (await d.getFileHandle(name)).getFile()).text();
    return { index: await text(dir, 'index.csv'), search: await text(dir, 'search.json') };
  });
  // A recipe per row of index.csv, named after its point.
  const ids = files.index.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
  const recipes = await page.evaluate(async (names) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('cluster-plan')).getDirectoryHandle('recipes');
    const found = await Promise.all(names.map((n) => dir.getFileHandle(`${n}.yaml`).then((h) => h.getFile()).then((f) => f.text())));
    return found.filter((t) => t.includes('merge_method: linear')).length;
  }, ids);
  // The plan's points are the CLI search's trials, as `souplab search --plan index.csv` reads them.
  const points = listPoints('index.csv', files.index, MODELS);
  expect(points.map((p) => pointKey(p.weights)).sort()).toEqual(trials.map((t) => t.key).sort());
  expect(recipes).toBe(11);
  expect((JSON.parse(files.search) as { experts: string[] }).experts).toEqual(MODELS);

  // Import the results folder of the search run with the external evaluator.
  await page.getByLabel("Import a cluster's results").setInputFiles([join(out, 'results', 'trials.jsonl'), join(out, 'results', 'search.json')]);
  await expect(page.getByTestId('cluster-message')).toHaveText('Imported 11 trials from trials.jsonl.');
  const imported = page.getByTestId('cluster-imported');
  for (const t of trials) await expect(imported.locator(`tr[data-key="${t.key}"] td[data-objective]`)).toHaveAttribute('data-objective', String(t.objective));
  await expect(imported.getByRole('table', { name: 'Search baselines' }).getByRole('row', { name: /^Best soup/ })).toBeVisible();
  await expect(imported.locator(`tr[data-key="${evidence.best!.key}"]`)).toBeVisible();
  await expect(imported.locator('section[data-chart="line"]')).toBeVisible();
});
