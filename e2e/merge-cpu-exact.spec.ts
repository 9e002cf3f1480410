/**
 * Issue 12 §3: the studio's CPU merge reads picked files through Blob streams into shared slabs and
 * writes browser storage through sync access handles. Here three checkpoints on disk (tens of MB, so
 * tensors span several reads and several jobs; one file lists its tensors in another order, so the
 * streams jump) are given to the page's file input as a picker gives them, merged on the CPU web
 * workers into browser storage and into a picked folder (writable streams), and the output must
 * equal, byte for byte, the same recipe merged in Node by the CPU engine.
 *
 * Run against the production build: npm run build && npx playwright test e2e/merge-cpu-exact.spec.ts
 */
import { expect, test } from '@playwright/test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsWriter, type OutputTensorSpec } from '../src/formats/writer';
import { parseRecipe } from '../src/merge/recipe';
import { nodeFileTarget } from '../src/node/fileTargets';
import { readExportedSoup } from './browserStorage';
import { mergeInNode, sha256Hex } from './nodeReference';

const NAMES = ['tuned-a', 'tuned-b', 'tuned-c'];
/** 10 MB, an odd shape, 8 MB and a small F32 norm: each BF16 tensor is several 4 MiB reads and 16 MiB jobs. */
const SPECS: OutputTensorSpec[] = [
  { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [5000, 1000] },
  { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [3001, 777] },
  { name: 'model.norm.weight', dtype: 'F32', shape: [1000] },
  { name: 'model.layers.1.mlp.up_proj.weight', dtype: 'BF16', shape: [2048, 2048] },
];
let dir: string;

/** Seeded values: BF16 around ±0.01–0.03, F32 in [-0.5, 0.5). */
function tensorBytes(spec: OutputTensorSpec, seed: number): Uint8Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  if (spec.dtype === 'F32') {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = next() / 2 ** 32 - 0.5;
    return new Uint8Array(v.buffer);
  }
  const v = new Uint16Array(n);
  for (let i = 0; i < n; i++) v[i] = 0x3c00 + (next() >>> 23) + ((s & 1) << 15);
  return new Uint8Array(v.buffer);
}

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'souplab-e2e-cpu-exact-'));
  for (const [i, name] of NAMES.entries()) {
    // The second file holds the same tensors in reverse order.
    const specs = i === 1 ? [...SPECS].reverse() : SPECS;
    const w = await SafetensorsWriter.create(nodeFileTarget(join(dir, `${name}.safetensors`)), specs, { maxShardBytes: Infinity });
    for (const [k, spec] of specs.entries()) await w.append(spec.name, tensorBytes(spec, 100 * i + k + 1));
    await w.finish();
  }
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Browser storage is written through sync access handles; a picked folder through writable streams,
// which take no shared memory (the slabs are copied through a reused buffer).
for (const output of [
  { label: /Browser storage/, folder: 'souplab-output', what: 'browser storage' },
  { label: /A folder/, folder: 'e2e-cpu-folder', what: 'a picked folder' },
]) {
  test(`picked checkpoints merged on the CPU into ${output.what} equal the CPU engine in Node, byte for byte`, async ({ page }) => {
    test.slow();
    await page.goto('/');
    expect(await page.evaluate(() => crossOriginIsolated), 'the studio is served cross-origin isolated (shared slabs)').toBe(true);
    await page.getByRole('tab', { name: 'Ingredients' }).click();
    await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
    await page.getByRole('button', { name: 'Remove all' }).click();
    await expect(page.getByRole('article')).toHaveCount(0);
    await page.locator('input[accept=".safetensors,.json"]').setInputFiles(NAMES.map((n) => join(dir, `${n}.safetensors`)));
    await expect(page.getByRole('article')).toHaveCount(3);
    await expect(page.getByText('Headers fit together')).toBeVisible();
    for (const [i, n] of NAMES.entries()) await page.getByRole('spinbutton', { name: `Weight of ${n}` }).fill(String([0.5, 0.3, 0.2][i]));

    await page.getByRole('tab', { name: 'Merge & export' }).click();
    await page.getByLabel('Run on').selectOption('cpu');
    // The folder picker returns a folder in the origin private file system.
    await page.evaluate((name) => {
      (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () =>
        (await navigator.storage.getDirectory()).getDirectoryHandle(name, { create: true });
    }, output.folder);
    await page.getByRole('radio', { name: output.label }).check();
    // The view prepares the merge's worker ahead (mergeClient's prepareMerge) and the click uses it.
    // What is asserted is what the user gets (the status and the bytes): how many workers are alive
    // at a given moment depends on how fast Chromium ends the old ones, i.e. on the machine's load.
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    await expect(page.getByText(/Verified: 1 file, 4 tensors/)).toBeVisible({ timeout: 180_000 });
    await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText(/on CPU, \d+ web workers?\./);

    const out = await readExportedSoup(page, output.folder);
    if (output.folder === 'souplab-output') expect(out.entries).toHaveLength(1);
    else expect(out.entries).toEqual(['model.safetensors', 'recipe.yaml']);

    // The studio writes each model as a path beside the recipe (modelPaths.ts), as mergekit reads it.
    expect(parseRecipe(out.recipe).recipe.models.map((m) => m.model.path)).toEqual(NAMES.map((n) => `./${n}.safetensors`));
    const ref = await mergeInNode(out.recipe, dir, NAMES);
    expect(out.size).toBe(ref.length);
    expect(out.sha256).toBe(sha256Hex(ref));
    // The soup is none of its ingredients.
    expect(out.sha256).not.toBe(sha256Hex(await readFile(join(dir, `${NAMES[0]}.safetensors`))));
  });
}
