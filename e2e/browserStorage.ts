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

/** Makes the page's folder picker give `folder` of the origin private file system (created if missing). */
export const stubFolderPicker = (page: Page, folder: string): Promise<void> =>
  page.evaluate((name) => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle(name, { create: true });
  }, folder);

/** The files of an origin-private folder and their bytes (small outputs: they cross as base64). */
export async function opfsFolderFiles(page: Page, folder: string): Promise<Map<string, Buffer>> {
  const files = await page.evaluate(async (name) => {
    const d = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
    const out: [string, string][] = [];
    for await (const [k, h] of (d as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind !== 'file') continue;
      const bytes = new Uint8Array(await (await (h as FileSystemFileHandle).getFile()).arrayBuffer());
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.push([k, btoa(bin)]);
    }
    return out;
  }, folder);
  return new Map(files.map(([k, b64]) => [k, Buffer.from(b64, 'base64')]));
}
