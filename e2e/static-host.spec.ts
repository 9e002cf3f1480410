/**
 * Issue 22 §3: the built studio (dist/app) works from a static host that sends no special headers,
 * as GitHub Pages does. Here a plain Node file server (no COOP/COEP, no CORP) serves the build:
 * - the service worker coi-serviceworker.js isolates the page (after the one reload it makes), so the
 *   merge's CPU workers share memory;
 * - where no service worker may run (blocked here), the page is not isolated, has no SharedArrayBuffer,
 *   and the merge still runs, copying between threads;
 * and both merge the demo checkpoints into browser storage to the same bytes. A build for a path below
 * the root (SOUPLAB_BASE, as the Pages workflow sets it) is isolated there too and finds its files.
 *
 * Run against the production build: npm run build && npx playwright test e2e/static-host.spec.ts
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { build } from 'vite';
import { readExportedSoup, type ExportedSoup } from './browserStorage';

const ROOT = new URL('../dist/app/', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};
const servers: Server[] = [];

/**
 * A plain file server for `root` at `base` (GET only; index.html for a folder): no headers but the
 * content type, as GitHub Pages serves. Gives its origin.
 */
async function serveStatic(root: string, base = '/'): Promise<string> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = path.startsWith(base) ? join(root, path.slice(base.length - 1).replace(/\/$/, '/index.html')) : undefined;
    (file ? readFile(file) : Promise.reject(new Error('outside the site'))).then(
      (body) => {
        res.writeHead(200, { 'Content-Type': TYPES[extname(file ?? '')] ?? 'application/octet-stream' });
        res.end(body);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return `http://localhost:${(server.address() as AddressInfo).port}`;
}

test.afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** The page's isolation and whether it may share memory, read once the page has settled. */
const isolation = (page: Page) =>
  page.evaluate(() => ({ isolated: crossOriginIsolated, shared: typeof SharedArrayBuffer !== 'undefined' })).catch(() => undefined);

/** Merges the three demo checkpoints on the CPU into browser storage and reads the soup back. */
async function mergeDemo(page: Page): Promise<ExportedSoup> {
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
  await expect(page.getByText('Headers fit together')).toBeVisible();
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /Browser storage/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Verified' })).toContainText(/on CPU, \d+ web workers?\./, { timeout: 120_000 });
  return readExportedSoup(page, 'souplab-output');
}

async function openStudio(browser: Browser, url: string, serviceWorkers: 'allow' | 'block'): Promise<Page> {
  const context = await browser.newContext({ serviceWorkers });
  const page = await context.newPage();
  const response = await page.goto(url);
  // The host sends neither header: any isolation comes from the service worker.
  expect(response?.headers()['cross-origin-opener-policy']).toBeUndefined();
  expect(response?.headers()['cross-origin-embedder-policy']).toBeUndefined();
  return page;
}

test('from a static host without COOP/COEP: isolated by the service worker, and merging alike without it', async ({ browser }) => {
  test.slow();
  const origin = await serveStatic(ROOT);
  const plain = await openStudio(browser, `${origin}/`, 'block');
  await expect(plain.getByRole('heading', { name: 'SoupLab' })).toBeVisible();
  expect(await isolation(plain), 'no service worker: not isolated, no shared memory').toEqual({ isolated: false, shared: false });
  const copied = await mergeDemo(plain);
  await plain.context().close();

  const page = await openStudio(browser, `${origin}/`, 'allow');
  // The service worker registers, the page reloads once under it and is then isolated.
  await expect.poll(() => isolation(page), { timeout: 30_000 }).toEqual({ isolated: true, shared: true });
  expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${origin}/coi-serviceworker.js`);
  const shared = await mergeDemo(page);
  await page.context().close();

  expect(shared.size).toBeGreaterThan(0);
  expect(shared.recipe).toBe(copied.recipe);
  expect(shared.sha256, 'shared slabs and copies merge to the same bytes').toBe(copied.sha256);
});

test('built for a path below the root (SOUPLAB_BASE, as for GitHub Pages): isolated there, its demo loads, nothing is missing', async ({ browser }) => {
  test.slow();
  const outDir = await mkdtemp(join(tmpdir(), 'souplab-e2e-base-'));
  try {
    // The same build as npm run build's, with the base path the Pages workflow sets.
    process.env.SOUPLAB_BASE = '/souplab/';
    await build({ configFile: new URL('../vite.config.ts', import.meta.url).pathname, logLevel: 'error', build: { outDir, emptyOutDir: true } });
    delete process.env.SOUPLAB_BASE;
    const origin = await serveStatic(outDir, '/souplab/');
    const context = await browser.newContext();
    const missing: string[] = [];
    context.on('response', (r) => void (r.status() === 404 && missing.push(r.url())));
    const page = await context.newPage();
    await page.goto(`${origin}/souplab/`);
    await expect.poll(() => isolation(page), { timeout: 30_000 }).toEqual({ isolated: true, shared: true });
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${origin}/souplab/coi-serviceworker.js`);
    await page.getByRole('tab', { name: 'Ingredients' }).click();
    await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });
    expect(missing).toEqual([]);
    await context.close();
  } finally {
    delete process.env.SOUPLAB_BASE;
    await rm(outDir, { recursive: true, force: true });
  }
});
