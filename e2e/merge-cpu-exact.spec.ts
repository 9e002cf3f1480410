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
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from '../src/formats/checkpoint';
import { SafetensorsWriter, type OutputTensorSpec } from '../src/formats/writer';
import { createCpuSoupBackend } from '../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../src/merge/cpu/protocol';
import { planMerge } from '../src/merge/plan';
import { parseRecipe } from '../src/merge/recipe';
import { runMerge } from '../src/merge/runMerge';
import { nodeFileSource } from '../src/node/fileSource';
import { nodeFileTarget } from '../src/node/fileTargets';
import { openCheckpointPath } from '../src/node/openCheckpointPath';

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

/** The same recipe merged in Node by the CPU engine: its bytes' SHA-256 and size. */
async function reference(recipeYaml: string): Promise<{ sha256: string; size: number }> {
  const { recipe } = parseRecipe(recipeYaml);
  // The studio writes each model as a path beside the recipe (modelPaths.ts), as mergekit reads it.
  const paths = NAMES.map((n) => `./${n}.safetensors`);
  expect(recipe.models.map((m) => m.model.path)).toEqual(paths);
  const checkpoints = new Map<string, Checkpoint>();
  const opened = await Promise.all(NAMES.map((n) => openCheckpointPath(join(dir, `${n}.safetensors`))));
  paths.forEach((p, i) => checkpoints.set(p, opened[i]));
  const refPath = join(dir, 'reference.safetensors');
  const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
  try {
    await runMerge(planMerge(recipe, checkpoints), {
      backend,
      target: nodeFileTarget(refPath),
      recipeYaml,
      maxShardBytes: Infinity,
      readBack: (name) => nodeFileSource(refPath, name),
    });
  } finally {
    await backend.dispose();
    await Promise.all(opened.map((c) => c.close()));
  }
  const bytes = await readFile(refPath);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

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
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    await expect(page.getByText(/Verified: 1 file, 4 tensors/)).toBeVisible({ timeout: 180_000 });
    await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText(/on CPU, \d+ web workers?\./);

    const out = await page.evaluate(async (name) => {
      let soup = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
      const entries: string[] = [];
      for await (const k of (soup as unknown as { keys(): AsyncIterable<string> }).keys()) entries.push(k);
      // Browser storage keeps each soup in a folder of its own.
      if (name === 'souplab-output') soup = await soup.getDirectoryHandle(entries[0]);
      const model = await (await soup.getFileHandle('model.safetensors')).getFile();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await model.arrayBuffer()));
      return {
        entries: entries.sort(),
        size: model.size,
        sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
        recipe: await (await (await soup.getFileHandle('recipe.yaml')).getFile()).text(),
      };
    }, output.folder);
    if (output.folder === 'souplab-output') expect(out.entries).toHaveLength(1);
    else expect(out.entries).toEqual(['model.safetensors', 'recipe.yaml']);

    const ref = await reference(out.recipe);
    expect(out.size).toBe(ref.size);
    expect(out.sha256).toBe(ref.sha256);
    // The soup is none of its ingredients.
    expect(out.sha256).not.toBe(createHash('sha256').update(await readFile(join(dir, `${NAMES[0]}.safetensors`))).digest('hex'));
  });
}
