/**
 * A LoRA adapter folder added to the studio (the folder input, as "Add folder…" gives it): without its
 * base the card says which base it needs and that it is not loaded; with the base dropped first the
 * card names the loaded base, and the soup's pre-flight takes it like any other ingredient. Merged in the
 * page on WebGPU (the adapted rows from shaders/merge/loraRows.wgsl) it is within 1 ulp of the CPU merge.
 *
 * Run against the production build: npm run build && npx playwright test e2e/lora.spec.ts
 */
import { expect, test, type Page } from '@playwright/test';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoCheckpointTensors } from '../scripts/makeDemoCheckpoints';
import { SafetensorsWriter } from '../src/formats/writer';
import { nodeFileTarget } from '../src/node/fileTargets';
import { opfsFolderFiles, stubFolderPicker } from './browserStorage';
import { removeDemoIngredients } from './freshSession';

let dir: string;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'souplab-e2e-lora-'));
  const tensors = demoCheckpointTensors(10);
  const w = await SafetensorsWriter.create(nodeFileTarget(join(dir, 'tiny-base.safetensors')), tensors.map((t) => t.spec), { maxShardBytes: Infinity });
  for (const t of tensors) await w.append(t.spec.name, t.bytes);
  await w.finish();
  // A rank-2 adapter on the first 2-D weight of the demo checkpoint.
  const target = tensors.find((t) => t.spec.shape.length === 2 && !t.spec.name.includes('embed'))!.spec;
  const module = target.name.replace(/\.weight$/, '');
  const [out, inF] = target.shape;
  const adapter = join(dir, 'chat-lora');
  await mkdir(adapter);
  await writeFile(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: [module.split('.').pop()], base_model_name_or_path: 'org/tiny-base' }));
  const factors = [
    { spec: { name: `base_model.model.${module}.lora_A.weight`, dtype: 'F32' as const, shape: [2, inF] }, bytes: new Uint8Array(new Float32Array(2 * inF).fill(0.01).buffer) },
    { spec: { name: `base_model.model.${module}.lora_B.weight`, dtype: 'F32' as const, shape: [out, 2] }, bytes: new Uint8Array(new Float32Array(out * 2).fill(0.02).buffer) },
  ];
  const a = await SafetensorsWriter.create(nodeFileTarget(join(adapter, 'adapter_model.safetensors')), factors.map((f) => f.spec), { maxShardBytes: Infinity });
  for (const f of factors) await a.append(f.spec.name, f.bytes);
  await a.finish();
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cleanStart(page: Page): Promise<void> {
  await page.goto('/');
  await removeDemoIngredients(page);
}

const folderInput = (page: Page) => page.locator('input[type=file][webkitdirectory]');

test('an adapter without its base: the card names the base it needs and says it is not loaded', async ({ page }) => {
  await cleanStart(page);
  await folderInput(page).setInputFiles(join(dir, 'chat-lora'));
  const card = page.getByRole('article', { name: 'chat-lora' });
  await expect(card).toContainText('chat-lora is a LoRA adapter for org/tiny-base; its base is not loaded: add the base model, then this adapter again');
});

test('an adapter added after its base: the card names the loaded base', async ({ page }, testInfo) => {
  await cleanStart(page);
  await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles({ name: 'tiny-base.safetensors', mimeType: 'application/octet-stream', buffer: await readFile(join(dir, 'tiny-base.safetensors')) });
  await expect(page.getByRole('article', { name: 'tiny-base' })).toContainText('BF16');
  await folderInput(page).setInputFiles(join(dir, 'chat-lora'));
  const card = page.getByRole('article', { name: 'chat-lora' });
  await expect(card.getByTestId('lora-base')).toHaveText(/LoRA r 2, α 4 on base tiny-base \(loaded\); trained on org\/tiny-base; 1 tensor adapted as they are read/);
  await page.screenshot({ path: testInfo.outputPath('lora-card.png'), fullPage: true });
});

/** Merges the page's soup into an origin-private folder (the picker stubbed) on `backend`; returns model.safetensors. */
async function mergeInPage(page: Page, backend: 'cpu' | 'webgpu', folder: string): Promise<Buffer> {
  await page.getByLabel('Run on').selectOption(backend);
  await stubFolderPicker(page, folder);
  await page.getByRole('radio', { name: /A folder/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Verified: 1 file/ })).toContainText(backend === 'webgpu' ? 'on WebGPU' : 'on CPU', { timeout: 90_000 });
  return (await opfsFolderFiles(page, folder)).get('model.safetensors')!;
}

/** A safetensors file's tensors as F32 values (the outputs here are F32). */
function f32Tensors(file: Buffer): Map<string, Int32Array> {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const data = file.subarray(8 + n);
  const out = new Map<string, Int32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(t.dtype).toBe('F32');
    out.set(name, new Int32Array(Uint8Array.from(data.subarray(t.data_offsets[0], t.data_offsets[1])).buffer));
  }
  return out;
}

test('a WebGPU merge in the page computes the adapted rows on the GPU (shaders/merge/loraRows.wgsl): within 1 ulp of the CPU merge', async ({ page }) => {
  await cleanStart(page);
  await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles({ name: 'tiny-base.safetensors', mimeType: 'application/octet-stream', buffer: await readFile(join(dir, 'tiny-base.safetensors')) });
  await expect(page.getByRole('article', { name: 'tiny-base' })).toContainText('BF16');
  await folderInput(page).setInputFiles(join(dir, 'chat-lora'));
  await expect(page.getByRole('article', { name: 'chat-lora' }).getByTestId('lora-base')).toContainText('(loaded)');
  // The adapted model alone, into F32: the output is the adapted tensors themselves.
  await page.getByRole('spinbutton', { name: 'Weight of tiny-base' }).fill('0');
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Output dtype').selectOption('F32');
  const gpu = f32Tensors(await mergeInPage(page, 'webgpu', 'lora-gpu'));
  const cpu = f32Tensors(await mergeInPage(page, 'cpu', 'lora-cpu'));
  expect([...gpu.keys()]).toEqual([...cpu.keys()]);
  const line = (x: number) => (x < 0 ? -(x & 0x7fffffff) : x);
  for (const [name, g] of gpu) {
    const c = cpu.get(name)!;
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(line(g[i]) - line(c[i])));
    expect(worst, name).toBeLessThanOrEqual(1);
  }
});
