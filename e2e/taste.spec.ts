import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { dropFile } from './dropFiles';
import { openFreshStudio } from './freshSession';
import type { CliTask } from './nodeReference';

// Issue 9 §5: the Taste step on the demo. The scores the studio shows (its worker, the CPU runtime, the
// soup made by the browser's CPU soup backend) must equal what the built CLI computes in Node for the same
// checkpoints, recipe and task files (`souplab eval … --json --backend cpu`), a separate process and face.

const CHECKPOINTS = resolve('public/demo/checkpoints');
const TASKS = resolve('public/demo/tasks');


function cliEval(model: string): CliTask[] {
  const out = execFileSync(process.execPath, ['bin/souplab.js', 'eval', model, '--tasks', TASKS, '--json', '--backend', 'cpu', '--quiet'], { encoding: 'utf8', timeout: 120_000 });
  return (JSON.parse(out) as { tasks: CliTask[] }).tasks;
}

// A busy 2-core CI machine: the CLI runs four times, the page scores four models.
test.describe.configure({ timeout: 300_000 });

let expected: Map<string, CliTask[]>;
let demoNames: string[];

test.beforeAll(() => {
  // In the manifest's order, as the studio lists them: the soup sums its models in this order (f32
  // rounding depends on it).
  demoNames = (JSON.parse(readFileSync(join(CHECKPOINTS, 'index.json'), 'utf8')) as { checkpoints: { name: string }[] }).checkpoints.map((c) => c.name);
  expect(demoNames.length).toBe(3);
  expected = new Map();
  // The studio's default soup: every demo checkpoint at weight 1, normalised (the uniform soup).
  const dir = mkdtempSync(join(tmpdir(), 'souplab-taste-'));
  try {
    const recipe = join(dir, 'soup.yaml');
    writeFileSync(recipe, `merge_method: linear\nparameters:\n  normalize: true\nmodels:\n${demoNames.map((n) => `  - model: ${join(CHECKPOINTS, n)}\n    parameters:\n      weight: 1\n`).join('')}`);
    expected.set('soup', cliEval(recipe));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const n of demoNames) expected.set(n, cliEval(join(CHECKPOINTS, n)));
});

async function openTaste(page: Page): Promise<void> {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Taste' }).click();
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(4);
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled({ timeout: 30_000 });
  await page.getByLabel('Run on').selectOption('cpu');
  await expect(page.locator('.backend-line')).toContainText('CPU: the WebAssembly SIMD runtime in web workers');
}

test('Taste scores the demo soup and its ingredients as the CLI does; Send to Scores fills the heatmap', async ({ page }, testInfo) => {
  await openTaste(page);
  // The time first, nothing scored: the soup and its 3 ingredients priced from a warm-up.
  await page.getByRole('button', { name: 'Estimate the time' }).click();
  await expect(page.getByTestId('taste-forecast')).toHaveText(/^Estimate: 4 models × [\d.]+( K)? tokens ≈ .* at [\d,]+ tokens\/s on CPU .*\(the evaluation alone, from a warm-up\)\.$/, { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled();
  await expect(page.getByRole('table', { name: 'Taste scores' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Taste', exact: true }).click();
  const table = page.getByRole('table', { name: 'Taste scores' });
  await expect(table.locator('tbody tr')).toHaveCount(4, { timeout: 90_000 });
  await expect(page.getByRole('button', { name: 'Send to Scores' })).toBeEnabled({ timeout: 90_000 });
  await expect(page.getByText(/On CPU \(WebAssembly SIMD, \d+ threads?, [A-Z0-9/]+ weights\), in a web worker/)).toBeVisible();

  const shown = await table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => ({
      model: r.getAttribute('data-model'),
      role: r.getAttribute('data-role'),
      cells: [...r.querySelectorAll('td[data-task]')].map((td) => ({
        task: td.getAttribute('data-task'),
        acc: td.getAttribute('data-acc'),
        accNorm: td.getAttribute('data-acc-norm'),
        perplexity: td.getAttribute('data-perplexity'),
        tokens: td.getAttribute('data-tokens'),
      })),
    })),
  );
  expect(shown.map((r) => r.model)).toEqual(['soup', ...demoNames]);
  expect(shown.map((r) => r.role)).toEqual(['soup', 'ingredient', 'ingredient', 'ingredient']);
  for (const row of shown) {
    const want = expected.get(row.model!)!;
    expect(row.cells.map((c) => c.task)).toEqual(want.map((t) => t.name));
    for (const [i, c] of row.cells.entries()) {
      const w = want[i];
      if (w.kind === 'multiple_choice') {
        expect(Number(c.acc), `${row.model} ${w.name} acc`).toBe(w.acc);
        expect(Number(c.accNorm), `${row.model} ${w.name} acc_norm`).toBe(w.acc_norm);
      } else {
        expect(Number(c.tokens)).toBe(w.tokens);
        // The same f32 arithmetic in Chromium's V8 and Node's (the soup by the browser's CPU soup workers and
        // Node's, bit for bit): equal but for the last bit of the final exp.
        const rel = Math.abs(Number(c.perplexity) - w.perplexity!) / w.perplexity!;
        expect(rel, `${row.model} ${w.name} perplexity`).toBeLessThan(1e-12);
      }
    }
  }
  // The soup is not one of its ingredients: its scores differ from each of theirs somewhere.
  const soupPpl = Number(shown[0].cells.find((c) => c.perplexity)?.perplexity);
  for (const r of shown.slice(1)) expect(Number(r.cells.find((c) => c.perplexity)?.perplexity)).not.toBe(soupPpl);
  await expect(page.getByRole('img', { name: /^facts: soup / })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('taste-results.png'), fullPage: true });

  // The results survive a reload.
  await page.reload();
  await expect(page.getByRole('table', { name: 'Taste scores' }).locator('tbody tr')).toHaveCount(4, { timeout: 30_000 });

  await page.getByRole('button', { name: 'Send to Scores' }).click();
  await expect(page.getByRole('tab', { name: 'Scores' })).toHaveAttribute('aria-selected', 'true');
  const grid = page.getByRole('grid', { name: /Correlation heatmap/ });
  await expect(grid).toBeVisible();
  const labels = (await grid.getByRole('rowheader').allTextContents()).map((s) => s.trim());
  // A row header reads "<category><title><cluster>": each task file is one of the four categories.
  expect(labels).toHaveLength(4);
  for (const c of ['arithmetic', 'facts', 'prose', 'tool-calls']) expect(labels.filter((l) => l.startsWith(c)), c).toHaveLength(1);
  await page.screenshot({ path: testInfo.outputPath('taste-to-scores.png'), fullPage: true });
});

test('Taste on a long task can be cancelled; the page stays responsive and says so', async ({ page }, testInfo) => {
  await openTaste(page);
  // ~300 KB of prose: minutes of scoring on the CPU runtime, so Cancel lands mid-run.
  const sentence = 'A soup of models is the average of their weights, and the best soup is found by tasting many. ';
  const text = sentence.repeat(3200);
  await dropFile(page, 'Task files', 'long-prose.txt', text);
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(1);
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('long-prose');
  await page.getByRole('button', { name: 'Taste', exact: true }).click();
  const bar = page.getByRole('progressbar', { name: 'Taste progress' });
  // The run's time from a warm-up, before the soup is scored; then tokens/s and the time left as it scores.
  await expect(page.getByTestId('taste-forecast')).toHaveText(/^Estimate: 4 models × [\d.]+( K)? tokens ≈ .* at [\d,]+ tokens\/s on .*\(the evaluation alone, from a warm-up\)\.$/, { timeout: 60_000 });
  await expect(bar).toHaveAttribute('aria-valuetext', /Scoring soup \(1 of 4\): long-prose, [\d,]+ of [\d,]+ tokens/, { timeout: 60_000 });
  await expect(page.getByTestId('taste-progress')).toHaveText(/tokens; [\d,]+ tokens\/s, about .* left$/, { timeout: 60_000 });
  // The main thread is free while the worker scores: a click on the metric select answers at once.
  await page.getByLabel('Multiple choice score').selectOption('acc');
  await expect(page.getByLabel('Multiple choice score')).toHaveValue('acc');
  await page.screenshot({ path: testInfo.outputPath('taste-running.png'), fullPage: true });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('alert')).toHaveText('Tasting cancelled; the models scored before it are kept.', { timeout: 30_000 });
  await expect(bar).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Taste', exact: true })).toBeEnabled();
  await expect(page.getByRole('table', { name: 'Taste scores' })).toHaveCount(0);
});
