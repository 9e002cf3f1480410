import { test, expect, type Page } from '@playwright/test';
import { dropFile, dropFiles } from './dropFiles';
import { openFreshStudio } from './freshSession';
import { BFCL_V4_LEAVES, BFCL_V4_LOWER_IS_BETTER, bfclV4Csv, OLL_BENCHMARKS, openLlmLeaderboardCsv } from '../test/analysis/leaderboards';

/** A score table generated for the test: 30 models, 5 categories (two correlated pairs and a noise column). */
function generatedCsv(): string {
  const rows = ['Model,Base Model,Reasoning,Maths,Coding,Debugging,Trivia,Average'];
  for (let i = 0; i < 30; i++) {
    const a = (i * 37) % 30;
    const b = (i * 11) % 30;
    const noise = (i * 53 + 7) % 30;
    const cells = [40 + a, 42 + a + (i % 3), 30 + b, 31 + b + (i % 2), 50 + noise];
    const avg = cells.reduce((s, v) => s + v, 0) / cells.length;
    rows.push([`gen-model-${i}`, i % 2 ? 'llama-3-8b' : 'mistral-7b', ...cells.map(String), avg.toFixed(3)].join(','));
  }
  return rows.join('\n') + '\n';
}

const lowCells = (page: Page) => page.locator('[role=gridcell][data-low]');
const antiCells = (page: Page) => page.locator('[role=gridcell][data-anti]');

test.beforeEach(async ({ page }) => {
  await openFreshStudio(page);
});

test('the demo loads: BFCL v3 heatmap, attribution, the three 70B experts', async ({ page }, testInfo) => {
  await expect(page.getByRole('tab', { name: 'Scores' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByText('Berkeley Function Calling Leaderboard v3').first()).toBeVisible();
  await expect(page.getByText('Apache-2.0', { exact: false }).first()).toBeVisible();
  const grid = page.getByRole('grid', { name: /Correlation heatmap/ });
  await expect(grid).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(14 * 14);
  const set = page.getByLabel('Expert set');
  for (const m of ['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B']) await expect(set.locator(`[data-expert="${m}"]`)).toBeVisible();
  await expect(page.getByText("demo: the paper's 70B soup")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-demo.png'), fullPage: true });
});

test('the heatmap is keyboard reachable and its tooltip gives ρ and n', async ({ page }, testInfo) => {
  const grid = page.getByRole('grid', { name: /Correlation heatmap/ });
  await grid.focus();
  await expect(grid).toBeFocused();
  const tip = page.getByRole('tooltip');
  await expect(tip).toContainText('ρ = 1.00');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await expect(tip).toContainText(/ρ = −?\d\.\d\d · n = 1[12]\d/);
  const active = await grid.getAttribute('aria-activedescendant');
  expect(active).toMatch(/-2-1$/);
  await grid.screenshot({ path: testInfo.outputPath('scores-keyboard-focus.png') });
  // Hover shows the hovered cell instead.
  const cell = page.locator('[role=gridcell][data-row="0"][data-col="13"]');
  await cell.hover();
  await expect(tip).toContainText(await cell.getAttribute('data-rho').then((r) => Number(r).toFixed(2).replace('-', '−')));
});

test('moving τ changes the marked cells, the clusters and the experts live', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  const tau = page.getByRole('slider', { name: /Threshold τ/ });
  await expect(tau).toHaveValue('0.2');
  const at02 = await lowCells(page).count();
  expect(at02).toBeGreaterThan(0);
  await tau.fill('0.5');
  await expect(page.locator('.tau-field .tau-value')).toHaveText('0.50');
  await expect.poll(() => lowCells(page).count()).toBeGreaterThan(at02);
  // L's rule: ρ < τ by default, so at τ = 0 the anti-correlated pairs (bars, not dots) still give experts.
  await expect(page.getByRole('radio', { name: 'ρ < τ', exact: true })).toBeChecked();
  await tau.fill('0');
  await expect(lowCells(page)).toHaveCount(0);
  expect(await antiCells(page).count()).toBeGreaterThan(0);
  await antiCells(page).first().hover();
  await expect(page.getByRole('tooltip')).toContainText('anti-correlated, ρ ≤ −τ');
  await expect(page.getByRole('heading', { name: /categories have ρ < τ with another/ })).toBeVisible();
  await expect(page.getByText(/the paper's rule selects no experts/)).toHaveCount(0);
  await expect(page.locator('.hm-legend')).toContainText(/anti-correlated, ρ ≤ −τ: [1-9]\d* pairs? \(in L under ρ < τ\)/);
  await page.getByRole('radio', { name: '|ρ| < τ', exact: true }).check();
  await expect(page.getByText(/the paper's rule selects no experts/)).toBeVisible();
  await expect(page.locator('.hm-legend')).toContainText('left out of L under |ρ| < τ');
  // Keyboard: the slider moves by its step.
  await tau.fill('0.2');
  await tau.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('.tau-field .tau-value')).toHaveText('0.21');
  await page.getByRole('radio', { name: 'Clusters' }).check();
  await expect(page.getByRole('heading', { name: /Experts.*clusters mode/ })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-clusters-mode.png'), fullPage: true });
  // The options survive a reload.
  await page.reload();
  await expect(page.locator('.tau-field .tau-value')).toHaveText('0.21');
  await expect(page.getByRole('radio', { name: 'Clusters' })).toBeChecked();
  await expect(page.getByRole('radio', { name: '|ρ| < τ', exact: true })).toBeChecked();
});

test('a dropped CSV replaces the demo: its categories, base-model groups, and it survives a reload', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await dropFile(page, 'Scores', 'generated.csv', generatedCsv());
  await expect(page.getByText('generated.csv').first()).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(25);
  const rows = page.getByRole('grid').getByRole('rowheader');
  for (const c of ['Reasoning', 'Maths', 'Coding', 'Debugging', 'Trivia']) await expect(rows.filter({ hasText: c })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'Average' })).toHaveCount(0);
  await expect(page.getByRole('group', { name: 'Base Model: llama-3-8b' })).toBeVisible();
  await expect(page.getByRole('group', { name: 'Base Model: mistral-7b' })).toBeVisible();
  await expect(page.getByText('demo: the paper')).toHaveCount(0);
  // The aggregate is available but off by default.
  await page.getByText(/Aggregates and other columns/).click();
  await expect(page.getByRole('checkbox', { name: 'Average' })).not.toBeChecked();
  await page.getByRole('checkbox', { name: 'Average' }).check();
  await expect(page.getByRole('gridcell')).toHaveCount(36);
  await page.screenshot({ path: testInfo.outputPath('scores-dropped.png'), fullPage: true });
  await page.reload();
  await expect(page.getByText('generated.csv').first()).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(36);
  await page.getByRole('button', { name: 'Back to the demo table' }).click();
  await expect(page.getByRole('gridcell')).toHaveCount(196);
});

test('a broken table is reported plainly and the current table stays', async ({ page }) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await dropFile(page, 'Scores', 'broken.json', '{"results": {"task": ');
  await expect(page.getByRole('alert')).toHaveText(/^broken\.json: not valid JSON/);
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await dropFile(page, 'Scores', 'words.csv', 'Model,Notes\nm1,good\nm2,bad\n');
  await expect(page.getByRole('alert')).toContainText('words.csv');
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  // Problems of a readable table are listed: a row without a model, a duplicate, a non-numeric cell.
  const messy = ['Model,a,b,c', 'm1,1,2,3', ',4,5,6', 'm2,2,1,oops', 'm1,9,9,9', 'm3,3,5,4', 'm4,4,3,1'].join('\n');
  await dropFile(page, 'Scores', 'messy.csv', messy);
  const problems = page.locator('.table-problems');
  await expect(problems).toContainText('3 problems in the table');
  await expect(problems).toContainText('has no model name');
  await expect(problems).toContainText('model "m1" appears again');
  await expect(problems).toContainText('"oops" is not a number');
});

test('"Use these experts" hands the expert set and uniform weights to the soup, and goes to Ingredients where they are', async ({ page }) => {
  await page.getByRole('button', { name: 'Use these experts' }).click();
  await expect(page.getByRole('tab', { name: 'Ingredients' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('region', { name: 'Proposed experts' })).toContainText(/SoCE paper mode, τ = 0\.20/);
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('souplab.soup') ?? '{}'));
  expect(new Set(saved.state.proposal.experts)).toEqual(new Set(['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B']));
  for (const w of saved.state.proposal.weights) expect(w).toBeCloseTo(1 / 3, 12);
  // The proposal belongs to the table it came from: another table loaded, it goes.
  await page.getByRole('tab', { name: 'Scores' }).click();
  await dropFile(page, 'Scores', 'other.csv', 'Model,A,B,C\na,1,2,3\nb,2,1,3\nc,3,3,1\n');
  await expect(page.getByRole('group', { name: /^Candidates/ }).locator('legend')).toContainText('of 3 models');
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(page.getByRole('region', { name: 'Proposed experts' })).toHaveCount(0);
});

test('dark theme and a 600 px window', async ({ page }, testInfo) => {
  await page.getByLabel('Theme').selectOption('dark');
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await page.screenshot({ path: testInfo.outputPath('scores-dark.png'), fullPage: true });
  await page.setViewportSize({ width: 600, height: 900 });
  await page.getByLabel('Theme').selectOption('light');
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath('scores-600px.png'), fullPage: true });
});

/** 40 categories over 200 models, from a fixed rule: 8 latent skills, each category mostly one of them. */
function wideCsv(): string {
  const k = 40;
  const header = ['Model', ...Array.from({ length: k }, (_, c) => `Task ${String(c + 1).padStart(2, '0')}`)];
  const lines = [header.join(',')];
  for (let m = 0; m < 200; m++) {
    const skill = (s: number) => ((m * (7 + 2 * s) + s * 13) % 97) / 97;
    const cells = Array.from({ length: k }, (_, c) => (50 + 40 * skill(c % 8) + 10 * (((m * 31 + c * 17) % 23) / 23)).toFixed(2));
    lines.push([`wide-model-${m}`, ...cells].join(','));
  }
  return lines.join('\n') + '\n';
}

test('a 40 × 40 heatmap renders every cell and follows τ', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await dropFile(page, 'Scores', 'wide.csv', wideCsv());
  await expect(page.getByRole('gridcell')).toHaveCount(1600, { timeout: 30_000 });
  const tau = page.getByRole('slider', { name: /Threshold τ/ });
  const before = await lowCells(page).count();
  // Not a timed assertion: the time is printed for the report. Per step: the synchronous work of one
  // slider input (analysis + React render + commit); the minimum is the least disturbed by other load.
  const times = await page.evaluate(async () => {
    const input = document.querySelector<HTMLInputElement>('input[type=range]')!;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    const out: number[] = [];
    // A drag: the slider's own step (0.01), back and forth.
    const values = Array.from({ length: 30 }, (_, i) => (0.31 + (i < 15 ? i : 30 - i) * 0.01).toFixed(2));
    values.push('0.40');
    for (const v of values) {
      const t0 = performance.now();
      setter.call(input, v);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      out.push(performance.now() - t0);
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    }
    return out.sort((a, b) => a - b);
  });
  const summary = `min ${times[0].toFixed(1)} ms, median ${times[times.length >> 1].toFixed(1)} ms per τ step`;
  testInfo.annotations.push({ type: 'τ update, 40 × 40', description: summary });
  console.log(`40 × 40 heatmap: ${summary}`);
  await expect(page.locator('.tau-field .tau-value')).toHaveText('0.40');
  await expect(tau).toHaveValue('0.4');
  await tau.fill('0.7');
  await expect.poll(() => lowCells(page).count()).toBeGreaterThan(before);
  await page.screenshot({ path: testInfo.outputPath('scores-40x40.png'), fullPage: true });
});

/** An lm-evaluation-harness results file as the harness writes it (only the parts SoupLab reads). */
function lmEvalJson(model: string, scores: Record<string, number>): string {
  const results = Object.fromEntries(Object.entries(scores).map(([task, v]) => [task, { alias: task, 'acc,none': v, 'acc_stderr,none': 0.01 }]));
  return JSON.stringify({ results, config: { model_args: `pretrained=${model},dtype=bfloat16` } });
}

test('several lm-eval results files dropped at once make one table; a constant task is hatched as undefined', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  const models: [string, number[]][] = [
    ['org/ft-a', [0.61, 0.42, 0.55]],
    ['org/ft-b', [0.58, 0.47, 0.51]],
    ['org/ft-c', [0.66, 0.40, 0.57]],
    ['org/ft-d', [0.52, 0.49, 0.49]],
  ];
  await dropFiles(
    page,
    'Scores',
    models.map(([m, [arc, gsm, mmlu]], i) => ({
      name: `results_${i}.json`,
      text: lmEvalJson(m, { arc_challenge: arc, gsm8k: gsm, mmlu: mmlu, boolq: 0.8 }),
    })),
  );
  await expect(page.getByText('results_0.json, results_1.json').first()).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(16);
  const rows = page.getByRole('grid').getByRole('rowheader');
  for (const task of ['arc_challenge', 'gsm8k', 'mmlu', 'boolq']) await expect(rows.filter({ hasText: task })).toHaveCount(1);
  await expect(page.getByRole('checkbox', { name: 'org/ft-c' })).toBeChecked();
  // boolq is the same for every model: its row and column are undefined, diagonal included.
  await expect(page.locator('[role=gridcell][data-rho=undefined]')).toHaveCount(7);
  await expect(page.locator('.hm-undefined')).toHaveCount(7);
  await expect(page.getByText('undefined: 7 cells')).toBeVisible();
  await expect(page.getByText(/"boolq" has no defined correlation/)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-lm-eval.png'), fullPage: true });
});

test('BFCL v4-like table: the lower-is-better format columns are left out by default, explained, and can be ticked', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  const gen = bfclV4Csv();
  await dropFile(page, 'Scores', 'data_overall.csv', gen.csv);
  const k = BFCL_V4_LEAVES.length;
  // Parsing, analysing and drawing a new table is real work: on a loaded machine it takes seconds.
  await expect(page.getByRole('gridcell')).toHaveCount(k * k, { timeout: 30_000 });
  const names = await page.getByRole('grid').locator('[role=rowheader] > title').allTextContents();
  expect(names.sort()).toEqual([...BFCL_V4_LEAVES].sort());
  // The notes say which columns were left out and why, collapsed to one line.
  const setAside = page.locator('.problems-set-aside');
  await expect(setAside.locator('summary')).toContainText(`2 result columns left out of the categories: ${BFCL_V4_LOWER_IS_BETTER.map((c) => `${c} (lower is better)`).join(', ')}`);
  await expect(setAside.getByText(/filled for 40 of 109 models/).first()).toBeHidden();
  await setAside.locator('summary').click();
  await expect(setAside.getByText(/Format Sensitivity Max Delta: lower is better: the name says a difference \(delta\).*filled for 40 of 109 models/)).toBeVisible();
  // The expert set holds no model chosen for being the most format-sensitive, and the grid is a search.
  const set = page.getByLabel('Expert set');
  await expect(set.locator('[data-expert]').first()).toBeVisible();
  const experts = await set.locator('[data-expert]').evaluateAll((els) => els.map((e) => e.getAttribute('data-expert')));
  expect(experts.length).toBeLessThan(10);
  await expect(page.getByRole('button', { name: /Download grid \((\d+) soups/ })).not.toHaveText(/\(1 soups/);
  await page.screenshot({ path: testInfo.outputPath('scores-bfcl-v4.png'), fullPage: true });
  // Still the user's choice: tick one and it becomes a category.
  await page.locator('.picker-more summary').click();
  const box = page.getByRole('checkbox', { name: /Format Sensitivity Max Delta/ });
  await expect(box).not.toBeChecked();
  await expect(page.locator('label', { hasText: 'Format Sensitivity Max Delta' })).toContainText('lower is better');
  await box.check();
  await expect(page.getByRole('gridcell')).toHaveCount((k + 1) * (k + 1), { timeout: 30_000 });
});

test('Open-LLM-Leaderboard-like table (3,100 rows): twins, collapsed problems, None / Only these, skip link, and experts of one base', async ({ page }, testInfo) => {
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  const gen = openLlmLeaderboardCsv();
  await dropFile(page, 'Scores', 'open-llm-leaderboard.csv', gen.csv);
  await expect(page.getByRole('gridcell')).toHaveCount(36, { timeout: 30_000 });
  // Each row header carries its full name as a <title>.
  const names = await page.getByRole('grid').locator('[role=rowheader] > title').allTextContents();
  expect(names.sort()).toEqual(OLL_BENCHMARKS.map((b) => b.name).sort());
  await expect(page.locator('.problems-set-aside summary')).toContainText('6 result columns left out of the categories: IFEval Raw (twin)');
  // 40 repeated names: one line, collapsed; the heatmap is on the first screen.
  const warnings = page.locator('.problems-warnings');
  await expect(warnings.locator('summary')).toHaveText('40 problems in the table: 40 repeated model names (the first row of each is kept)');
  await expect(warnings).not.toHaveAttribute('open', '');
  await expect(warnings.getByText(/appears again/).first()).toBeHidden();
  const grid = page.getByRole('grid', { name: /Correlation heatmap/ });
  const box = await grid.boundingBox();
  expect(box!.y).toBeLessThan(800);
  await page.screenshot({ path: testInfo.outputPath('scores-open-llm-first-screen.png') });
  await warnings.locator('summary').click();
  await expect(warnings.getByText(/appears again/)).toHaveCount(40);
  await warnings.locator('summary').click();

  // The experts mix architectures: "Use these experts" refuses, and says why.
  const compat = page.locator('#experts-compat');
  await expect(compat).toContainText('These experts cannot be souped together');
  await expect(compat).toContainText('The experts have different architectures ("Architecture": ');
  await expect(page.getByRole('button', { name: 'Use these experts' })).toBeDisabled();
  await expect(page.getByText('refused: these experts cannot be souped together')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-open-llm-refused.png'), fullPage: true });

  // Narrowing 3,060 candidates to one family: search, then "Only these".
  const candidates = page.getByRole('group', { name: /^Candidates/ });
  await candidates.getByRole('button', { name: 'None' }).click();
  await expect(candidates.locator('legend')).toContainText('(0 of 3060 models)');
  await expect(page.getByRole('status').filter({ hasText: 'No candidates' })).toBeVisible();
  await expect(page.getByRole('gridcell')).toHaveCount(36);
  await candidates.getByRole('searchbox').fill('Qwen2.5-7B');
  const family = gen.models.filter((m) => m.includes('Qwen2.5-7B'));
  await candidates.getByRole('button', { name: `Only these ${family.length}` }).click();
  await expect(candidates.locator('legend')).toContainText(`(${family.length} of 3060 models)`);
  await expect(compat).toHaveCount(0);
  const experts = await page.getByLabel('Expert set').locator('[data-expert]').evaluateAll((els) => els.map((e) => e.getAttribute('data-expert')!));
  expect(experts.length).toBeGreaterThan(0);
  for (const e of experts) expect(gen.baseOf.get(e)).toBe('Qwen/Qwen2.5-7B');
  await expect(page.getByRole('button', { name: 'Use these experts' })).toBeEnabled();

  // Keyboard: the skip link is the first stop in the controls and lands on the heatmap.
  await page.getByRole('combobox', { name: 'Model column' }).focus();
  await page.keyboard.press('Shift+Tab');
  const skip = page.getByRole('link', { name: 'Skip to the heatmap' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('scores-skip-link.png') });
  await page.keyboard.press('Enter');
  await expect(grid).toBeFocused();
});

test('experts of one architecture but different base models: a warning, and the soup is sent with it', async ({ page }) => {
  const lines = ['Model,Base Model,Architecture,#Params (B),Maths,Code,Chat'];
  for (let i = 0; i < 24; i++) {
    // The best in Maths is ft-13, in Code ft-21, in Chat ft-19 (the largest residues): two bases among them.
    const base = i < 16 ? 'org/base-a' : 'org/base-b';
    lines.push([`ft-${i}`, base, 'LlamaForCausalLM', '8.03', 40 + ((i * 7) % 23), 30 + ((i * 11) % 29), 50 + ((i * 13) % 31)].join(','));
  }
  await expect(page.getByRole('gridcell')).toHaveCount(196);
  await dropFile(page, 'Scores', 'two-bases.csv', lines.join('\n') + '\n');
  await expect(page.getByRole('gridcell')).toHaveCount(9, { timeout: 30_000 });
  await page.getByRole('slider', { name: /Threshold τ/ }).fill('1');
  const compat = page.locator('#experts-compat');
  await expect(compat).toContainText('Check before souping');
  await expect(compat).toContainText('The experts come from different base models ("Base Model": ');
  await expect(compat.getByRole('button', { name: /^org\/base-a \(16\)$/ })).toBeVisible();
  const use = page.getByRole('button', { name: 'Use these experts' });
  await expect(use).toBeEnabled();
  await use.click();
  await expect(page.getByRole('tab', { name: 'Ingredients' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('region', { name: 'Proposed experts' })).toContainText(/\(warning: the experts come from different base models/);
  await page.getByRole('tab', { name: 'Scores' }).click();
  // One click narrows the candidates to one base: the warning goes.
  await compat.getByRole('button', { name: /^org\/base-a/ }).click();
  await expect(page.getByRole('group', { name: /^Candidates/ }).locator('legend')).toContainText('(16 of 24 models)');
  await expect(compat).toHaveCount(0);
});

test('the method is explained beside its controls, with the paper linked', async ({ page }) => {
  const help = page.locator('.method-help');
  await expect(help.locator('summary')).toHaveText('What τ, the set L and the two modes mean');
  await help.locator('summary').click();
  await expect(help).toContainText('τ is the threshold');
  await expect(help).toContainText('L is the paper’s set');
  await expect(help.getByRole('link', { name: 'arXiv 2511.13254' })).toHaveAttribute('href', 'https://arxiv.org/abs/2511.13254');
});
