/**
 * Issue 9 §3 in the studio: GGUF export. The GGUF the page writes for the demo soup (its merge worker, the
 * browser's CPU soup backend, browser storage, then the download link) must be byte for byte the file the
 * built CLI writes for the same checkpoints and recipe (`souplab merge … --out x.gguf`), a separate process
 * and face; llama.cpp (node-llama-cpp) must load it and tokenise with it. Missing tokenizer files are said
 * in one line before anything starts; a cancelled GGUF export leaves nothing in browser storage.
 *
 * Run against the production build: npm run build && npx playwright test e2e/gguf-export.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { storedFolders } from './browserStorage';
import { dropFiles } from './dropFiles';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { openFreshStudio } from './freshSession';

const CHECKPOINTS = resolve('public/demo/checkpoints');
/** The download: "soup-<models>-<when>.gguf", named after the soup as the browser-storage folder is. */
const SOUP_GGUF = /^soup-demo-xLAM-2-70b-fc-r\+demo-watt-tool-70B\+demo-CoALM-70B-\d{4}-\d\d-\d\d-\d{6}\.gguf$/;

// A busy 2-core CI machine: two exports in the page, two CLI runs, llama.cpp loading a model.
test.describe.configure({ timeout: 240_000 });

/** The studio's Merge & export step on the demo soup, GGUF chosen, into browser storage, on the CPU. */
async function openGgufExport(page: Page): Promise<void> {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(page.getByTestId('estimated-size')).toHaveText(/KB$/, { timeout: 30_000 });
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /^GGUF/ }).check();
  await page.getByRole('radio', { name: /Browser storage/ }).check();
}

/** The CLI's GGUF of the studio's default soup: every demo checkpoint at weight 1, normalised, in the manifest's order. */
function cliGguf(dir: string, fileName: string, type: string): Buffer {
  const names = (JSON.parse(readFileSync(join(CHECKPOINTS, 'index.json'), 'utf8')) as { checkpoints: { name: string }[] }).checkpoints.map((c) => c.name);
  const recipe = join(dir, 'soup.yaml');
  writeFileSync(recipe, `merge_method: linear\nparameters:\n  normalize: true\nmodels:\n${names.map((n) => `  - model: ${join(CHECKPOINTS, n)}\n    parameters:\n      weight: 1\n`).join('')}`);
  // Named as the page named its file: general.name is the file's name in both faces.
  const out = join(dir, fileName);
  execFileSync(process.execPath, ['bin/souplab.js', 'merge', recipe, '--out', out, '--gguf-type', type, '--backend', 'cpu', '--quiet'], { timeout: 120_000 });
  return readFileSync(out);
}

async function exportAndDownload(page: Page, type: string, dir: string): Promise<{ name: string; bytes: Buffer }> {
  await page.getByLabel('GGUF type').selectOption(type);
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  const result = page.getByRole('status').filter({ hasText: `Verified: GGUF ${type.toUpperCase()}` });
  await expect(result).toBeVisible({ timeout: 90_000 });
  await expect(result).toContainText('the header was re-read and matches the plan');
  const link = result.getByRole('link', { name: SOUP_GGUF });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const name = download.suggestedFilename();
  expect(name).toMatch(SOUP_GGUF);
  const path = join(dir, `page-${type}.gguf`);
  await download.saveAs(path);
  return { name, bytes: readFileSync(path) };
}

test('a GGUF exported in the page is byte for byte the CLI\'s for the same soup, and llama.cpp reads it', async ({ page }, testInfo) => {
  const dir = mkdtempSync(join(tmpdir(), 'souplab-gguf-e2e-'));
  try {
    await openGgufExport(page);
    // The default type is the soup's own: BF16, as the demo fine-tunes are; the check of the base model's files is said.
    await expect(page.getByLabel('GGUF type')).toHaveValue('bf16');
    await expect(page.getByLabel('GGUF type').locator('option:checked')).toHaveText('BF16 (the soup’s own)');
    await expect(page.getByTestId('gguf-check')).toHaveText('GGUF of a LlamaForCausalLM with the tokenizer and chat template of demo-xLAM-2-70b-fc-r.', { timeout: 30_000 });

    const bf16 = await exportAndDownload(page, 'bf16', dir);
    const cliBf16 = cliGguf(dir, bf16.name, 'bf16');
    expect(bf16.bytes.length).toBe(cliBf16.length);
    expect(bf16.bytes.equals(cliBf16)).toBe(true);

    // Q8_0 too: the page's quantisation is the CLI's (a second export, another second, another name).
    await page.waitForTimeout(1100);
    await page.getByLabel('GGUF type').selectOption('q8_0');
    await expect(page.locator('.gguf-type-hint')).toContainText('8-bit quantised, blocks of 32 weights');
    const q8 = await exportAndDownload(page, 'q8_0', dir);
    await page.screenshot({ path: testInfo.outputPath('gguf-export.png'), fullPage: true });
    const cliQ8 = cliGguf(dir, q8.name, 'q8_0');
    expect(q8.bytes.equals(cliQ8)).toBe(true);
    expect(q8.bytes.length).toBeLessThan(bf16.bytes.length);
    expect(await storedFolders(page)).toEqual([bf16.name.replace(/\.gguf$/, ''), q8.name.replace(/\.gguf$/, '')].sort());

    // llama.cpp loads the page's file: its metadata and tokenizer as written, and it evaluates text.
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath: join(dir, 'page-bf16.gguf') });
      try {
        expect(model.fileInfo.metadata.general.architecture).toBe('llama');
        expect(model.fileInfo.metadata.general.name).toBe(bf16.name.replace(/\.gguf$/, ''));
        const text = 'Call the weather tool for Paris.';
        const tokens = model.tokenize(text);
        expect(tokens.length).toBeGreaterThan(3);
        expect(model.detokenize(tokens)).toBe(text);
        const context = await model.createContext({ contextSize: 64, threads: 1 });
        const evaluated = await context.getSequence().controlledEvaluate(tokens.map((t) => [t, { generateNext: { probabilities: true } }]));
        const p = evaluated.at(-2)?.next?.probabilities?.get(tokens.at(-1)!) ?? 0;
        expect(p).toBeGreaterThan(0);
        expect(p).toBeLessThan(1);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    } finally {
      await llama.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint without its tokenizer: one line before starting, and Merge stays off for GGUF only', async ({ page }) => {
  await openFreshStudio(page);
  // The demo's first model as a lone .safetensors file (no config.json, no tokenizer.json beside it).
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  const bytes = readFileSync(join(CHECKPOINTS, 'demo-xLAM-2-70b-fc-r', 'model.safetensors')).toString('base64');
  await dropFiles(page, 'Checkpoints', [{ name: 'lone.safetensors', base64: bytes }]);
  await expect(page.getByRole('article')).toHaveCount(4);
  // Only the lone file in the soup: it is the reference model whose files the GGUF would carry.
  for (const n of ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B']) await page.getByRole('spinbutton', { name: `Weight of ${n}` }).fill('0');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByRole('radio', { name: /^GGUF/ }).check();
  await expect(page.getByTestId('gguf-check')).toHaveText(
    "No GGUF possible: lone: no config.json or tokenizer.json beside the weights; a GGUF file needs the base model's config.json and tokenizer.json (add the checkpoint's whole folder, not only its .safetensors)",
    { timeout: 30_000 },
  );
  const merge = page.getByRole('button', { name: 'Merge', exact: true });
  await expect(merge).toBeDisabled();
  await page.getByRole('radio', { name: /^safetensors/ }).check();
  await expect(merge).toBeEnabled();
  await expect(page.getByTestId('gguf-check')).toHaveCount(0);
});

test('GGUF into a picked folder (named after the soup, replacing only after asking) and into a picked file (named as the file)', async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await expect(page.getByTestId('estimated-size')).toHaveText(/KB$/, { timeout: 30_000 });
  await page.evaluate(() => {
    const w = window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle>; showSaveFilePicker: () => Promise<FileSystemFileHandle> };
    w.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('picked', { create: true });
    w.showSaveFilePicker = async () => (await navigator.storage.getDirectory()).getFileHandle('my-soup.gguf', { create: true });
  });
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /^GGUF/ }).check();
  await expect(page.getByTestId('estimated-size')).toHaveText(/KB \(GGUF BF16\)$/);
  const folderNames = () =>
    page.evaluate(async () => {
      const d = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked');
      const names: string[] = [];
      for await (const k of (d as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(k);
      return names.sort();
    });
  const soupFile = 'soup-demo-xLAM-2-70b-fc-r+demo-watt-tool-70B+demo-CoALM-70B.gguf';

  await page.getByRole('radio', { name: /^A folder/ }).check();
  await expect(page.getByRole('radio', { name: /^A folder/ })).toHaveAccessibleName(/the soup as one \.gguf file named after its models/);
  const merge = page.getByRole('button', { name: 'Merge', exact: true });
  await merge.click();
  await expect(page.getByRole('status').filter({ hasText: 'Verified: GGUF BF16' })).toContainText(`Written to picked: ${soupFile}`, { timeout: 90_000 });
  expect(await folderNames()).toEqual([soupFile]);
  // Again into the same folder: asked first; declining writes nothing.
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await merge.click();
  await expect.poll(() => asked).toBe(`picked already holds ${soupFile}. Replace that model with the soup?`);
  expect(await folderNames()).toEqual([soupFile]);

  await page.getByRole('radio', { name: /^One \.gguf file/ }).check();
  await merge.click();
  await expect(page.getByText(/^Written to my-soup\.gguf$/)).toBeVisible({ timeout: 90_000 });
  const head = await page.evaluate(async () => {
    const f = await (await (await navigator.storage.getDirectory()).getFileHandle('my-soup.gguf')).getFile();
    return new TextDecoder('latin1').decode(new Uint8Array(await f.slice(0, 4096).arrayBuffer()));
  });
  expect(head.slice(0, 4)).toBe('GGUF');
  // general.name is the file's name, as `souplab merge --out my-soup.gguf` writes it.
  expect(head).toContain('general.name\u0008\u0000\u0000\u0000\u0007\u0000\u0000\u0000\u0000\u0000\u0000\u0000my-soup');
});
