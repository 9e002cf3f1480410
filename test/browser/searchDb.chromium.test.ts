import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright';
import { chromiumPath, openChromiumPage, type ChromiumPage } from '../support/chromiumPage';

// The studio's IndexedDB store of search results (src/browser/searchDb.ts) in real Chromium, served by
// Vite from localhost: the engine's TrialStore contract (load what was appended, in order; a point
// appended twice keeps its place), trials kept per search, a store opened again after the page reloads
// (a new database connection) continuing the order, and a search deleted with its trials only.
let chromium: ChromiumPage | undefined;
let page: Page;

beforeAll(async () => {
  chromium = await openChromiumPage(5393);
  page = chromium.page;
  await page.evaluate(() => new Promise((resolve) => Object.assign(indexedDB.deleteDatabase('souplab-search'), { onsuccess: resolve, onerror: resolve, onblocked: resolve })));
}, 120_000);

afterAll(async () => {
  await chromium?.close();
});

/** Runs `body` (an async function body) in the page with the module's exports in scope. */
function inPage<T>(body: string): Promise<T> {
  return page.evaluate(`(async () => {
    const db = await import('/src/browser/searchDb.ts');
    const trial = (key, objective) => ({ key, weights: key.split('|').map(Number), kinds: ['grid'], tune: { t: objective }, heldOut: { t: objective }, objective, heldOutObjective: objective, soupSeconds: 0, evalSeconds: 0, solved: { t: '101' } });
    const manifest = { souplab: 'search', models: [{ name: 'a', path: 'x' }], tasks: [], metric: 'acc_norm', splitSeed: 0, tuneShare: 0.5 };
    const search = (id) => ({ id, manifest, settings: { plan: 'grid' }, state: 'running', message: null, planned: 3, evidence: null, loader: null, backend: null, createdAt: 1, updatedAt: 1 });
    ${body}
  })()`) as Promise<T>;
}

describe.skipIf(!existsSync(chromiumPath))('the search results in IndexedDB (Chromium)', () => {
  it('a trial store loads what was appended, in order, per search; a point appended again keeps its place', async () => {
    const r = await inPage<{ a: string[]; b: string[]; again: number[]; records: unknown[] }>(`
      await db.putSearch(search('s1'));
      await db.putSearch(search('s2'));
      const s1 = db.idbTrialStore('s1');
      const s2 = db.idbTrialStore('s2');
      for (const k of ['1|0', '0|1', '0.5|0.5']) await s1.append(trial(k, k.length));
      await s2.append(trial('0|1', 7));
      await s1.append(trial('0|1', 99));
      return { a: (await s1.load()).map((t) => t.key), b: (await s2.load()).map((t) => t.key), again: (await s1.load()).map((t) => t.objective), records: await s2.load() };
    `);
    expect(r.a).toEqual(['1|0', '0|1', '0.5|0.5']);
    expect(r.b).toEqual(['0|1']);
    expect(r.again).toEqual([3, 99, 7]);
    expect(r.records).toEqual([{ key: '0|1', weights: [0, 1], kinds: ['grid'], tune: { t: 7 }, heldOut: { t: 7 }, objective: 7, heldOutObjective: 7, soupSeconds: 0, evalSeconds: 0, solved: { t: '101' } }]);
  });

  it('after a reload the trials and the search are read back, and a new store continues the order', async () => {
    await inPage(`
      await db.putSearch(search('r1'));
      const r1 = db.idbTrialStore('r1');
      for (const k of ['1|0', '0|1', '0.5|0.5']) await r1.append(trial(k, 1));
    `);
    await page.reload();
    const r = await inPage<{ keys: string[]; state: string; planned: number; listed: string[] }>(`
      const r1 = db.idbTrialStore('r1');
      await r1.append(trial('0.3|0.7', 1));
      await db.updateSearch('r1', { state: 'cancelled', planned: 4 });
      const got = await db.getSearch('r1');
      return { keys: (await db.loadTrials('r1')).map((t) => t.key), state: got.state, planned: got.planned, listed: (await db.listSearches()).map((s) => s.id) };
    `);
    expect(r.keys).toEqual(['1|0', '0|1', '0.5|0.5', '0.3|0.7']);
    expect(r.state).toBe('cancelled');
    expect(r.planned).toBe(4);
    // The search changed last is listed first.
    expect(r.listed[0]).toBe('r1');
  });

  it('deleting a search removes it and its trials, and nothing of another search', async () => {
    const r = await inPage<{ s1: number; s2: number; gone: boolean; other: boolean }>(`
      for (const id of ['d1', 'd2']) {
        await db.putSearch(search(id));
        for (const k of ['1|0', '0|1']) await db.idbTrialStore(id).append(trial(k, 1));
      }
      await db.deleteSearch('d1');
      return { s1: (await db.loadTrials('d1')).length, s2: (await db.loadTrials('d2')).length, gone: (await db.getSearch('d1')) === undefined, other: (await db.getSearch('d2')) !== undefined };
    `);
    expect(r).toEqual({ s1: 0, s2: 2, gone: true, other: true });
  });
});
