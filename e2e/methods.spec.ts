/**
 * Merge methods in the studio, end to end, on the demo checkpoints the studio ships: TIES and SLERP
 * picked in the page, parameters set in the fields made from the registry (global, per model, a layer
 * gradient), the recipe exported as mergekit YAML, the merge run in the page, and its output compared
 * with `souplab merge` of the exported YAML put beside copies of the same checkpoint folders. Then an
 * invalid parameter: its inline error, and a blocked Merge. And della_linear and multislerp, whose
 * passes (della's per-row ranks included) all run on the GPU, against the CLI's CPU merge.
 *
 * The two outputs differ only in the comment line of the recipe stored in __metadata__ (the studio's
 * and the command's say where their model paths point), which shifts the header: so the headers are
 * compared entry by entry (every tensor's dtype, shape and offsets, the metadata's recipes parsed),
 * and the tensor data byte for byte.
 *
 * Run against the production build: npm run build && npx playwright test e2e/methods.spec.ts
 */
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRecipe } from '../src/merge/recipe';
import { browserAdapter } from './adapter';
import { opfsFolderFiles, stubFolderPicker } from './browserStorage';
import { openFreshStudio } from './freshSession';
import { demoCheckpointsCopy } from './nodeReference';

const BASE = 'demo-xLAM-2-70b-fc-r';
const WATT = 'demo-watt-tool-70B';
const COALM = 'demo-CoALM-70B';
let dir: string;

// Each test merges in the page and runs the CLI: room for a busy 2-core CI machine.
test.describe.configure({ timeout: 240_000 });

test.beforeAll(async () => {
  dir = await demoCheckpointsCopy('souplab-e2e-methods-', [BASE, WATT, COALM]);
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function demoIngredients(page: Page): Promise<void> {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
}

/** The recipe the Export button downloads. */
async function exportRecipe(page: Page): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export recipe' }).click()]);
  expect(download.suggestedFilename()).toBe('recipe.yaml');
  return readFile((await download.path())!, 'utf8');
}

/** Merges in the page into a folder of the origin private file system (the picker stubbed); returns model.safetensors. */
async function mergeInPage(page: Page, backend: 'cpu' | 'webgpu', folder: string): Promise<Buffer> {
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption(backend);
  await stubFolderPicker(page, folder);
  await page.getByRole('radio', { name: /A folder/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByText(/Verified: 1 file, 21 tensors/)).toBeVisible({ timeout: 90_000 });
  return (await opfsFolderFiles(page, folder)).get('model.safetensors')!;
}

/** `souplab merge` of the exported recipe, on the CPU, beside the checkpoint folders. */
function mergeWithCli(recipe: string, name: string): Promise<Buffer> {
  return (async () => {
    const recipePath = join(dir, `${name}.yaml`);
    const out = join(dir, `${name}.safetensors`);
    await writeFile(recipePath, recipe);
    execFileSync(process.execPath, ['bin/souplab.js', 'merge', recipePath, '--out', out, '--backend', 'cpu', '--quiet'], { encoding: 'utf8', timeout: 120_000 });
    return readFile(out);
  })();
}

function split(file: Buffer): { header: Record<string, unknown>; data: Buffer } {
  const n = Number(file.readBigUInt64LE(0));
  return { header: JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>, data: file.subarray(8 + n) };
}

/** Same tensors (entries and bytes), same recipe; only the stored recipe's comment line may differ. */
function expectSameModel(fromPage: Buffer, fromCli: Buffer): void {
  const a = split(fromPage);
  const b = split(fromCli);
  const { __metadata__: ma, ...ta } = a.header as { __metadata__: Record<string, string> };
  const { __metadata__: mb, ...tb } = b.header as { __metadata__: Record<string, string> };
  expect(Object.keys(ta)).toHaveLength(21);
  expect(ta).toEqual(tb);
  expect(a.data.length).toBe(b.data.length);
  expect(a.data.equals(b.data), 'tensor data byte for byte').toBe(true);
  const body = (yaml: string) => yaml.replace(/^#.*\n/, '');
  expect(body(ma['souplab.recipe'])).toBe(body(mb['souplab.recipe']));
  expect({ ...ma, 'souplab.recipe': '' }).toEqual({ ...mb, 'souplab.recipe': '' });
}

test('TIES picked and set in the page, exported, merged: the same model as souplab merge of the export; the export imports back', async ({ page }, testInfo) => {
  await demoIngredients(page);
  // Output dtype BF16 (the demo mixes BF16 weights and F32 norms): written into the recipe.
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Output dtype').selectOption('BF16');
  await page.getByRole('tab', { name: 'Ingredients' }).click();

  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('ties');
  await expect(page.getByTestId('method-description')).toContainText('elects a sign');
  await expect(page.getByRole('link', { name: /TIES-Merging/ })).toHaveAttribute('href', 'https://arxiv.org/abs/2306.01708');
  // No base yet: said, and it blocks.
  await expect(page.locator('.next .blockers')).toContainText('TIES needs a base model');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await expect(page.getByRole('article', { name: BASE })).toContainText('base model');
  await page.getByRole('spinbutton', { name: `Weight of ${WATT}` }).fill('0.7');
  await page.getByRole('spinbutton', { name: `Weight of ${COALM}` }).fill('0.3');
  await page.getByRole('textbox', { name: 'density', exact: true }).fill('0.6');
  await page.getByRole('textbox', { name: `density of ${COALM}` }).fill('0.4, 0.8');
  await page.getByRole('textbox', { name: 'lambda', exact: true }).fill('1.1');
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('ties-ingredients.png'), fullPage: true });

  const yaml = await exportRecipe(page);
  const { recipe } = parseRecipe(yaml);
  expect(recipe.method).toBe('ties');
  // Paths as paths (mergekit would take bare names for Hugging Face ids), dtype included.
  expect(recipe.baseModel?.path).toBe(`./${BASE}`);
  expect(recipe.models.map((m) => m.model.path)).toEqual([`./${WATT}`, `./${COALM}`]);
  expect(recipe.models[1].parameters.density).toMatchObject({ kind: 'value', value: [0.4, 0.8] });
  expect(recipe.parameters.density).toMatchObject({ value: 0.6 });
  expect(recipe.dtype).toBe('F32');
  expect(recipe.outDtype).toBe('BF16');

  const fromPage = await mergeInPage(page, 'cpu', 'e2e-ties');
  await expect(page.getByTestId('merge-method')).toHaveText(`TIES (ties), base model ${BASE}`);
  expectSameModel(fromPage, await mergeWithCli(yaml, 'ties'));

  // The export read back after switching to linear fills the picker and the fields again.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('linear');
  await expect(page.getByRole('textbox', { name: 'lambda', exact: true })).toHaveCount(0);
  await page.locator('input[type=file][accept*=".yaml"]').setInputFiles({ name: 'ties.yaml', mimeType: 'application/yaml', buffer: Buffer.from(yaml) });
  await expect(page.getByRole('combobox', { name: 'Merge method' })).toHaveValue('ties');
  await expect(page.getByRole('combobox', { name: 'Base model' })).toHaveValue(BASE);
  await expect(page.getByRole('textbox', { name: 'lambda', exact: true })).toHaveValue('1.1');
  await expect(page.getByRole('textbox', { name: `density of ${COALM}` })).toHaveValue('0.4, 0.8');
  await expect(page.getByRole('spinbutton', { name: `Weight of ${WATT}` })).toHaveValue('0.7');
  expect(parseRecipe(await exportRecipe(page)).recipe).toEqual(parseRecipe(yaml).recipe);
});

test('SLERP needs exactly one model besides the base; with a t gradient, merged on WebGPU: the same model as souplab merge', async ({ page }, testInfo) => {
  await demoIngredients(page);
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Output dtype').selectOption('BF16');
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('slerp');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  // Two models besides the base: SLERP takes one; t is required.
  await expect(page.getByTestId('method-count')).toHaveText(/^SLERP merges exactly one model besides the base model; two models are in the merge besides the base model/);
  await expect(page.locator('.param[data-param="t"] .param-error')).toHaveText(/^t is required/);
  await page.getByRole('article', { name: COALM }).getByRole('checkbox', { name: 'In the merge' }).uncheck();
  await expect(page.getByTestId('method-count')).toHaveCount(0);
  await page.getByRole('textbox', { name: 't', exact: true }).fill('0.2, 0.8');
  await expect(page.getByText('Ready to merge 1 ingredient.')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('slerp-ingredients.png'), fullPage: true });

  const yaml = await exportRecipe(page);
  const { recipe } = parseRecipe(yaml);
  expect(recipe.method).toBe('slerp');
  // mergekit's slerp reads the base among its two inputs: it is listed with the other model.
  expect(recipe.models.map((m) => m.model.path)).toEqual([`./${BASE}`, `./${WATT}`]);
  expect(recipe.parameters.t).toMatchObject({ kind: 'value', value: [0.2, 0.8] });

  const adapter = await browserAdapter(page);
  expect(adapter, 'this spec merges on WebGPU: the browser must give an adapter').not.toBeNull();
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('webgpu');
  // SLERP's norms, dot product and final combination all run on the GPU: said.
  await expect(page.getByTestId('gpu-note')).toHaveAttribute('data-gpu', 'all');
  const fromPage = await mergeInPage(page, 'webgpu', 'e2e-slerp');
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText('on WebGPU');
  expectSameModel(fromPage, await mergeWithCli(yaml, 'slerp'));
});

test('an invalid parameter shows its error at the field and blocks the merge', async ({ page }, testInfo) => {
  await demoIngredients(page);
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('dare_ties');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await page.getByRole('textbox', { name: 'random_seed', exact: true }).fill('1234');
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();

  const density = page.getByRole('textbox', { name: `density of ${WATT}` });
  await density.fill('1.5');
  await expect(density).toHaveAttribute('aria-invalid', 'true');
  const error = page.getByRole('article', { name: WATT }).getByRole('alert');
  await expect(error).toHaveText('density must be in [0, 1], got 1.5');
  await expect(page.locator('.next .blockers')).toContainText(`${WATT}: density must be in [0, 1], got 1.5.`);
  await page.getByRole('textbox', { name: 'random_seed', exact: true }).fill('12.5');
  await expect(page.locator('.param[data-param="random_seed"]').getByRole('alert')).toHaveText('random_seed must be a whole number, got 12.5');
  await page.screenshot({ path: testInfo.outputPath('invalid-parameter.png'), fullPage: true });

  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(page.getByRole('button', { name: 'Merge', exact: true })).toBeDisabled();
  await expect(page.locator('.blocked')).toContainText('density must be in [0, 1], got 1.5');

  // Corrected, the merge may start.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await density.fill('0.5');
  await page.getByRole('textbox', { name: 'random_seed', exact: true }).fill('1234');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(page.getByRole('button', { name: 'Merge', exact: true })).toBeEnabled();
});

test('della_linear runs whole on the GPU on a WebGPU choice (its per-row ranks, rescale sums and element pass): the same model as souplab merge on the CPU', async ({ page }) => {
  await demoIngredients(page);
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('della_linear');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await expect(page.getByTestId('gpu-note')).toHaveAttribute('data-gpu', 'all');
  await expect(page.getByTestId('gpu-note')).toContainText('della_linear magnitude ranks');
  await page.getByRole('textbox', { name: 'density', exact: true }).fill('0.5');
  await page.getByRole('textbox', { name: 'random_seed', exact: true }).fill('1234');
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();
  const yaml = await exportRecipe(page);
  expect(parseRecipe(yaml).recipe.parameters.density).toMatchObject({ value: 0.5 });
  const fromPage = await mergeInPage(page, 'webgpu', 'e2e-della');
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText('on WebGPU');
  expectSameModel(fromPage, await mergeWithCli(yaml, 'della_linear'));
});

test('multislerp runs whole on the GPU on a WebGPU choice (its four statistics passes and its element pass): the same model as souplab merge on the CPU', async ({ page }) => {
  await demoIngredients(page);
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('multislerp');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await expect(page.getByTestId('gpu-note')).toHaveAttribute('data-gpu', 'all');
  await expect(page.getByTestId('gpu-note')).toContainText('4 statistics passes');
  await page.getByLabel('normalize_weights').selectOption('false');
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();
  const yaml = await exportRecipe(page);
  expect(parseRecipe(yaml).recipe.parameters.normalize_weights).toMatchObject({ value: false });
  const fromPage = await mergeInPage(page, 'webgpu', 'e2e-multislerp');
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText('on WebGPU');
  expectSameModel(fromPage, await mergeWithCli(yaml, 'multislerp'));
});

test('ramplus_tl: its fields come from the registry and go into the YAML; arcee_fusion takes one model besides the base and merges on WebGPU: the same model as souplab merge', async ({ page }) => {
  await demoIngredients(page);
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Output dtype').selectOption('BF16');
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('ramplus_tl');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await page.getByRole('textbox', { name: 'r', exact: true }).fill('0.3');
  await page.getByRole('textbox', { name: 'alpha', exact: true }).fill('0.5');
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();
  const ram = parseRecipe(await exportRecipe(page)).recipe;
  expect(ram.method).toBe('ramplus_tl');
  expect(ram.parameters.r).toMatchObject({ value: 0.3 });
  expect(ram.parameters.alpha).toMatchObject({ value: 0.5 });

  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('arcee_fusion');
  await expect(page.getByTestId('method-count')).toHaveText(/^Arcee Fusion merges exactly one model besides the base model; two models are in the merge besides the base model/);
  await page.getByRole('article', { name: COALM }).getByRole('checkbox', { name: 'In the merge' }).uncheck();
  await expect(page.getByTestId('method-count')).toHaveCount(0);
  await expect(page.getByText('Ready to merge 1 ingredient.')).toBeVisible();
  const yaml = await exportRecipe(page);
  expect(parseRecipe(yaml).recipe.method).toBe('arcee_fusion');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('webgpu');
  // The KL and quartile passes on the CPU of the merge worker, the output pass on the GPU: said.
  await expect(page.getByTestId('gpu-note')).toHaveAttribute('data-gpu', 'part');
  const fromPage = await mergeInPage(page, 'webgpu', 'e2e-arcee-fusion');
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText('on WebGPU');
  expectSameModel(fromPage, await mergeWithCli(yaml, 'arcee_fusion'));
});

test('karcher, which stops iterating once it converges, says its bytes read are at most (no MB/s in its progress): the same model as souplab merge', async ({ page }) => {
  await demoIngredients(page);
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('karcher');
  await expect(page.getByText('Ready to merge 3 ingredients.')).toBeVisible();
  const yaml = await exportRecipe(page);
  const fromPage = await mergeInPage(page, 'cpu', 'e2e-karcher');
  const facts = page.locator('.merge-facts');
  await expect(facts.locator('dt', { hasText: 'Read' }).locator('+ dd')).toHaveText(/^up to \d/);
  await expect(page.locator('.progress-text')).toContainText(/of up to \d/);
  await expect(page.locator('.progress-text')).not.toContainText(/[KMGT]?B\/s/);
  expectSameModel(fromPage, await mergeWithCli(yaml, 'karcher'));
});

test('a slices: recipe (a frankenmerge) read in shows its layer ranges and is written back as it was', async ({ page }) => {
  await demoIngredients(page);
  const text = `merge_method: passthrough\nslices:\n  - sources:\n      - model: ./${BASE}\n        layer_range: [0, 2]\n  - sources:\n      - model: ./${WATT}\n        layer_range: [1, 2]\n        parameters:\n          scale: 0.5\ndtype: float32\nout_dtype: bfloat16\n`;
  await page.locator('input[type=file][accept*=".yaml"]').setInputFiles({ name: 'franken.yaml', mimeType: 'application/yaml', buffer: Buffer.from(text) });
  await expect(page.getByRole('combobox', { name: 'Merge method' })).toHaveValue('passthrough');
  const slices = page.getByRole('group', { name: 'Layer slices' });
  await expect(slices.getByRole('listitem')).toHaveText([`${BASE} layers [0, 2)`, `${WATT} layers [1, 2) (scale 0.5)`]);
  await expect(page.getByText('Ready to merge 2 ingredients.')).toBeVisible();
  const back = parseRecipe(await exportRecipe(page)).recipe;
  const strip = (r: typeof back) => JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === 'line' || k === 'methodLine' || k === 'fileName' ? undefined : v))) as unknown;
  expect(strip(back)).toEqual(strip(parseRecipe(text).recipe));
  // Back to the models list.
  await slices.getByRole('button', { name: 'Use the models list' }).click();
  await expect(page.getByRole('group', { name: 'Layer slices' })).toHaveCount(0);
});
