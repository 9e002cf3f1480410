import type { Page } from '@playwright/test';

/** The folders of soups kept in the page's browser storage (OPFS souplab-output/), sorted. */
export const storedFolders = (page: Page): Promise<string[]> =>
  page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const out = await root.getDirectoryHandle('souplab-output').catch(() => undefined);
    const names: string[] = [];
    if (out) for await (const k of (out as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(k);
    return names.sort();
  });
