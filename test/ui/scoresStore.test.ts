import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { useScoresStore } from '../../src/ui/state/scoresStore';

// The store in Node: localStorage is a Map, `document.baseURI` a page address, and `fetch` answers the
// demo table only when the test lets it, so a slow network can be played out in any order.
const net = await vi.hoisted(async () => {
  (await import('../support/memoryLocalStorage')).installMemoryLocalStorage();
  (globalThis as { document?: unknown }).document = { baseURI: 'http://localhost/' };
  const pending: (() => void)[] = [];
  return { pending };
});

const demoCsv = readFileSync(new URL('../../public/demo/bfcl-v3/data_overall.csv', import.meta.url), 'utf8');
globalThis.fetch = (() =>
  new Promise<Response>((resolve) => net.pending.push(() => resolve(new Response(demoCsv, { status: 200 }))))) as typeof fetch;

const store = () => useScoresStore.getState();
const userTable = { name: 'mine.csv', text: 'model,alpha,beta,gamma\nm1,1,2,3\nm2,2,1,4\nm3,3,5,1\n' };

describe('scoresStore', () => {
  it('a table dropped while the demo is still downloading stays: the late demo does not replace it', async () => {
    const init = store().init();
    expect(store().status).toBe('loading');
    await store().loadFiles([userTable]);
    expect(store().files).toEqual([userTable]);
    // The demo's response arrives only now.
    net.pending.splice(0).forEach((answer) => answer());
    await init;
    expect(store().source).toEqual({ kind: 'user', names: ['mine.csv'] });
    expect(store().files).toEqual([userTable]);
    expect(store().status).toBe('ready');
  });
});
