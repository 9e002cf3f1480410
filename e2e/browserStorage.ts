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

export interface ExportedSoup {
  /** The entries of `folder`, sorted: the soup's files, or for browser storage its one folder per soup. */
  entries: string[];
  /** model.safetensors: its size and SHA-256 (hex), hashed in the page so that large outputs stay there. */
  size: number;
  sha256: string;
  /** recipe.yaml as written beside the model. */
  recipe: string;
}

/**
 * Reads back a soup the studio exported into the origin private file system: into `folder` (a picked
 * folder, stubbed there), or, for browser storage (souplab-output), into the first of its soup folders.
 */
export const readExportedSoup = (page: Page, folder: string): Promise<ExportedSoup> =>
  page.evaluate(async (name) => {
    let soup = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
    const entries: string[] = [];
    for await (const k of (soup as unknown as { keys(): AsyncIterable<string> }).keys()) entries.push(k);
    entries.sort();
    // Browser storage keeps each soup in a folder of its own.
    if (name === 'souplab-output') soup = await soup.getDirectoryHandle(entries[0]);
    const model = await (await soup.getFileHandle('model.safetensors')).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await model.arrayBuffer()));
    return {
      entries,
      size: model.size,
      sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
      recipe: await (await (await soup.getFileHandle('recipe.yaml')).getFile()).text(),
    };
  }, folder);
