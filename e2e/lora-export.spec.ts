/**
 * The studio's LoRA adapter export (Merge & export, format "LoRA adapter"): the demo soup as task
 * arithmetic on a base, exported from the page as a rank-4 PEFT adapter into a folder (the picker stubbed
 * to the origin private file system), on the browser's CPU backend. The page's adapter_config.json and
 * adapter_model.safetensors must be byte for byte what the built CLI writes for the page's exported
 * recipe: `souplab merge recipe.yaml --out soup/`, then `souplab extract-lora soup/ --base <base> --rank 4`.
 * The page shows the energy each tensor keeps; without a base model it says why and Merge stays off.
 *
 * Run against the production build: npm run build && npx playwright test e2e/lora-export.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { opfsFolderFiles, stubFolderPicker } from './browserStorage';
import { openFreshStudio } from './freshSession';
import { demoCheckpointsCopy } from './nodeReference';

const BASE = 'demo-xLAM-2-70b-fc-r';
const WATT = 'demo-watt-tool-70B';
const COALM = 'demo-CoALM-70B';
const CLI = resolve('bin/souplab.js');
let dir: string;

// A merge and an extraction in the page, then two CLI runs, on a busy 2-core CI machine.
test.describe.configure({ timeout: 240_000 });

test.beforeAll(async () => {
  dir = await demoCheckpointsCopy('souplab-e2e-lora-export-', [BASE, WATT, COALM]);
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a LoRA adapter exported in the page is byte for byte the CLI\'s merge + extract-lora of the same recipe; energy kept per tensor shown', async ({ page }, testInfo) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });

  // The demo soup has no base model: a LoRA export says so and Merge stays off.
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /^LoRA adapter/ }).check();
  await expect(page.getByTestId('lora-check')).toContainText('No LoRA adapter possible: an adapter is the soup’s difference to the recipe’s base model, and this soup has none');
  await expect(page.getByRole('button', { name: 'Merge', exact: true })).toBeDisabled();
  // Two files: no single-file output.
  await expect(page.getByRole('radio', { name: /One \.safetensors file/ })).toBeDisabled();

  // Task arithmetic on the base.
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('combobox', { name: 'Merge method' }).selectOption('task_arithmetic');
  await page.getByRole('combobox', { name: 'Base model' }).selectOption(BASE);
  await page.getByRole('spinbutton', { name: `Weight of ${WATT}` }).fill('0.7');
  await page.getByRole('spinbutton', { name: `Weight of ${COALM}` }).fill('0.4');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export recipe' }).click()]);
  const recipe = await readFile((await download.path())!, 'utf8');
  expect(recipe).toMatch(/merge_method: task_arithmetic/);

  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('LoRA rank').fill('4');
  await expect(page.getByTestId('lora-check')).toHaveText(new RegExp(`^A rank-4 adapter for ${BASE}`));
  await stubFolderPicker(page, 'lora-out');
  await page.getByRole('radio', { name: /A folder/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  const result = page.getByRole('status').filter({ hasText: 'LoRA adapter, rank 4' });
  await expect(result).toContainText(`Verified: LoRA adapter, rank 4, for ./${BASE}`, { timeout: 120_000 });
  await expect(result).toContainText('the adapter was re-read as a merge reads it');
  const energy = page.getByTestId('lora-energy');
  await expect(energy.locator('tbody tr').first()).toBeVisible();
  const shares = await energy.locator('tbody td:last-child').allTextContents();
  expect(shares.some((s) => /^\d+\.\d\d %$/.test(s))).toBe(true);
  await page.screenshot({ path: testInfo.outputPath('lora-export.png'), fullPage: true });

  const pageFiles = await opfsFolderFiles(page, 'lora-out');
  expect([...pageFiles.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  expect(JSON.parse(pageFiles.get('adapter_config.json')!.toString('utf8'))).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 4, base_model_name_or_path: `./${BASE}` });

  // The CLI's two steps on the page's recipe, beside the checkpoints (the base named as the recipe names it).
  await writeFile(join(dir, 'soup.yaml'), recipe);
  execFileSync(process.execPath, [CLI, 'merge', 'soup.yaml', '--out', 'cli-soup', '--backend', 'cpu', '--quiet'], { cwd: dir, timeout: 120_000 });
  execFileSync(process.execPath, [CLI, 'extract-lora', 'cli-soup', '--base', `./${BASE}`, '--rank', '4', '--out', 'cli-lora', '--quiet'], { cwd: dir, timeout: 120_000 });
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
    const cli = await readFile(join(dir, 'cli-lora', f));
    expect(pageFiles.get(f)!.equals(cli), f).toBe(true);
  }
});
