/**
 * The soups kept in this browser's private storage (OPFS, under souplab-output/): what is there, how
 * large, how much room is left, and deleting them. Each merge into browser storage is a folder named
 * after the soup and the time it was made.
 */
import { entriesOf } from '../ingredients/fsAccess';
import { formatBytes } from '../ingredients/format';

export const OUTPUT_FOLDER = 'souplab-output';
/** A GGUF export's file in its browser-storage folder (downloaded as "<soup>.gguf"). */
export const GGUF_FILE = 'model.gguf';

export interface StoredFile {
  name: string;
  size: number;
  /** The name a download of it gets: after the soup, not a bare model.safetensors. */
  downloadName: string;
  file: File;
}

export interface StoredSoup {
  folder: string;
  bytes: number;
  modified: number;
  files: StoredFile[];
}

async function outputRoot(create: boolean): Promise<FileSystemDirectoryHandle | undefined> {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(OUTPUT_FOLDER, { create }).catch(() => undefined);
}

/** model.safetensors of soup "alpha+beta-2026-…" downloads as "alpha+beta-2026-….safetensors" (model.gguf as "….gguf"); recipe.yaml as "….recipe.yaml". */
export function downloadNameOf(soup: string, file: string): string {
  if (file === 'model.safetensors') return `${soup}.safetensors`;
  if (file === GGUF_FILE) return `${soup}.gguf`;
  const shard = /^model-(\d{5}-of-\d{5}\.safetensors)$/.exec(file);
  if (shard) return `${soup}-${shard[1]}`;
  if (file === 'model.safetensors.index.json') return `${soup}.safetensors.index.json`;
  return `${soup}.${file}`;
}

/** The files of one stored soup (Chromium's .crswap leftovers of an interrupted write left out). */
export async function storedFiles(folder: string, dir: FileSystemDirectoryHandle): Promise<StoredFile[]> {
  const files: StoredFile[] = [];
  for (const [name, h] of await entriesOf(dir)) {
    if (h.kind !== 'file' || name.endsWith('.crswap')) continue;
    const file = await (h as FileSystemFileHandle).getFile();
    files.push({ name, size: file.size, downloadName: downloadNameOf(folder, name), file });
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** Every stored soup, newest first. */
export async function listStoredSoups(): Promise<StoredSoup[]> {
  const root = await outputRoot(false);
  if (!root) return [];
  const soups: StoredSoup[] = [];
  for (const [folder, h] of await entriesOf(root)) {
    if (h.kind !== 'directory') continue;
    const files = await storedFiles(folder, h as FileSystemDirectoryHandle);
    soups.push({ folder, files, bytes: files.reduce((s, f) => s + f.size, 0), modified: Math.max(0, ...files.map((f) => f.file.lastModified)) });
  }
  return soups.sort((a, b) => b.modified - a.modified);
}

export async function deleteStoredSoup(folder: string): Promise<void> {
  const root = await outputRoot(false);
  await root?.removeEntry(folder, { recursive: true });
}

/**
 * Why a soup of `bytes` will not fit in this browser's storage, with the numbers, or undefined when
 * it fits (or the browser does not say). A margin is kept: browsers refuse writes near the quota.
 */
export async function storageShortfall(bytes: number): Promise<string | undefined> {
  if (!navigator.storage?.estimate) return undefined;
  const { quota, usage } = await navigator.storage.estimate();
  if (quota === undefined || usage === undefined) return undefined;
  const free = Math.max(0, quota - usage);
  const need = Math.ceil(bytes * 1.01) + (1 << 20);
  if (need <= free) return undefined;
  return `Not enough browser storage for this soup: it needs ${formatBytes(need)}, and ${formatBytes(free)} is free (${formatBytes(usage)} of this site's ${formatBytes(quota)} used). Delete stored soups below, or export to a folder or file instead.`;
}

/** A file name for the soup of these models: "alpha+beta+gamma", or "soup-of-7-models" when that gets long. */
export function soupNameOf(models: string[]): string {
  const clean = models.map((m) => m.replace(/\.safetensors$/i, '').replace(/[\\/:*?"<>|\s]+/g, '_'));
  const joined = clean.join('+');
  if (clean.length === 0) return 'soup';
  return clean.length <= 3 && joined.length <= 60 ? `soup-${joined}` : `soup-of-${clean.length}-models`;
}
