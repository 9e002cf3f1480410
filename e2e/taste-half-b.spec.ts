/**
 * Issue 19 "Done means", the studio's half: a model of Qwen2-0.5B's shape (494 M parameters, BF16, 988 MB,
 * generated here with seeded weights by the generator test/model/qwen2HalfB.test.ts gives `souplab eval`)
 * is given to the studio as a folder through the file input (Playwright hands a local Chromium the files
 * by path, so the page reads them from disk as a user's would), souped (one ingredient at weight 1: the
 * soup is the model, rounded back to BF16) and tasted on the CPU runtime on two short tasks. The page's
 * scores, for the soup and the ingredient, equal what the built CLI computes for the same model and task
 * files (`souplab eval --backend cpu --json`, a separate process).
 *
 * Run against the production build: npm run build && npx playwright test e2e/taste-half-b.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect, test } from '@playwright/test';
import { qwen2HalfB } from '../scripts/realShapes';
import { writeBf16Model } from '../test/support/bf16Model';
import { dropFiles } from './dropFiles';
import { openFreshStudio, removeDemoIngredients } from './freshSession';
import type { CliTask } from './nodeReference';

const MODEL = 'qwen2-0.5b';


// Generating the model, one CLI evaluation and the page's two (soup, ingredient) on a busy 2-core machine.
test.describe.configure({ timeout: 600_000 });

let dir: string;
let expected: CliTask[];
const taskFiles: { name: string; text: string }[] = [
  { name: 'sky.jsonl', text: `${JSON.stringify({ query: 'The sky is', choices: [' blue', ' green'], gold: 0 })}\n${JSON.stringify({ query: 'Two plus two is', choices: [' four', ' five'], gold: 0 })}\n` },
  { name: 'line.txt', text: 'A soup of models is the average of their weights.\n' },
];

test.beforeAll(async () => {
  test.setTimeout(600_000);
  dir = mkdtempSync(join(tmpdir(), 'souplab-e2e-halfb-'));
  const bytes = await writeBf16Model(join(dir, MODEL), qwen2HalfB(), MODEL);
  expect(bytes).toBeGreaterThan(980e6);
  mkdirSync(join(dir, 'tasks'));
  for (const f of taskFiles) writeFileSync(join(dir, 'tasks', f.name), f.text);
  // --json has no bits/byte (the page's perplexity score): the lm-eval layout written beside it has.
  const lmEval = join(dir, 'lm-eval');
  const out = execFileSync(process.execPath, ['bin/souplab.js', 'eval', join(dir, MODEL), '--tasks', join(dir, 'tasks'), '--json', '--backend', 'cpu', '--quiet', '--output-path', lmEval], {
    encoding: 'utf8',
    timeout: 480_000,
  });
  const resultsFile = readdirSync(lmEval, { recursive: true, encoding: 'utf8' }).find((f) => basename(f).startsWith('results_'));
  expect(resultsFile).toBeDefined();
  const lmResults = (JSON.parse(readFileSync(join(lmEval, resultsFile!), 'utf8')) as { results: Record<string, Record<string, unknown>> }).results;
  expected = (JSON.parse(out) as { tasks: CliTask[] }).tasks.map((t) => (t.kind === 'perplexity' ? { ...t, bits_per_byte: lmResults[t.name]['bits_per_byte,none'] as number } : t));
  expect(expected.map((t) => t.kind).sort()).toEqual(['multiple_choice', 'perplexity']);
});
test.afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a 0.5 B Qwen2-shaped BF16 model picked as a folder is tasted on the CPU runtime as souplab eval --backend cpu scores it', async ({ page }, testInfo) => {
  await openFreshStudio(page);
  await removeDemoIngredients(page);
  await page.locator('input[type=file][webkitdirectory]').setInputFiles(join(dir, MODEL));
  await expect(page.getByRole('article')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByRole('article', { name: MODEL })).toContainText('494', { timeout: 60_000 });

  await page.getByRole('tab', { name: 'Taste' }).click();
  await dropFiles(page, 'Task files', taskFiles);
  await expect(page.getByRole('list', { name: 'Tasks' }).getByRole('listitem')).toHaveCount(2);
  await page.getByLabel('Run on').selectOption('cpu');
  const taste = page.getByRole('button', { name: 'Taste', exact: true });
  await expect(taste).toBeEnabled({ timeout: 60_000 });
  await taste.click();

  const table = page.getByRole('table', { name: 'Taste scores' });
  await expect(table.locator('tbody tr')).toHaveCount(2, { timeout: 540_000 });
  await expect(page.getByRole('button', { name: 'Send to Scores' })).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByText(/On CPU \(WebAssembly SIMD, \d+ threads?, BF16 weights\), in a web worker/)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('taste-half-b.png'), fullPage: true });

  const shown = await table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => ({
      model: r.getAttribute('data-model'),
      cells: [...r.querySelectorAll('td[data-task]')].map((td) => ({
        task: td.getAttribute('data-task'),
        text: td.textContent?.trim(),
        acc: td.getAttribute('data-acc'),
        accNorm: td.getAttribute('data-acc-norm'),
        perplexity: td.getAttribute('data-perplexity'),
        tokens: td.getAttribute('data-tokens'),
        bitsPerByte: td.getAttribute('data-bits-per-byte'),
      })),
    })),
  );
  // The soup of one model at weight 1 is that model: both rows score as the CLI scores the model.
  expect(shown.map((r) => r.model)).toEqual(['soup', MODEL]);
  for (const row of shown) {
    // The page lists tasks in the order they were dropped, the CLI a folder's files by name.
    expect(row.cells.map((c) => c.task).sort()).toEqual(expected.map((t) => t.name).sort());
    for (const c of row.cells) {
      const w = expected.find((t) => t.name === c.task)!;
      if (w.kind === 'multiple_choice') {
        // The page shows acc_norm (its default) in percent with one decimal.
        expect(c.text, `${row.model} ${w.name}`).toBe(`${(100 * w.acc_norm!).toFixed(1)} %`);
        expect(Number(c.acc), `${row.model} ${w.name} acc`).toBe(w.acc);
        expect(Number(c.accNorm), `${row.model} ${w.name} acc_norm`).toBe(w.acc_norm);
      } else {
        // The page shows −bits/byte with three decimals (higher is better).
        expect(c.text, `${row.model} ${w.name}`).toBe((-w.bits_per_byte!).toFixed(3));
        expect(Number(c.tokens)).toBe(w.tokens);
        // The same kernels in Chromium's V8 and Node's: equal but for the last bit of the final exp.
        for (const [shownValue, cliValue, what] of [
          [c.perplexity, w.perplexity!, 'perplexity'],
          [c.bitsPerByte, w.bits_per_byte!, 'bits/byte'],
        ] as const) {
          expect(Math.abs(Number(shownValue) - cliValue) / cliValue, `${row.model} ${w.name} ${what}`).toBeLessThan(1e-12);
        }
      }
    }
  }
});
