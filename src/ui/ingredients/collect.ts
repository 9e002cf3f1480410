/**
 * Turns what the user dropped or picked into ingredient inputs: a .safetensors file is one ingredient;
 * a folder with .safetensors files (single or sharded) is one; a folder of such folders gives one per
 * subfolder. Nothing is read here beyond folder listings.
 */
import { entriesOf } from './fsAccess';
import { ingredientNameOf } from './names';
import type { IngredientInput, SourceItem } from './types';

export interface Collected {
  inputs: IngredientInput[];
  /** Files left out, with why, for a notice. */
  skipped: string[];
}

const isSafetensors = (name: string) => /\.safetensors$/i.test(name);
const INDEX = 'model.safetensors.index.json';
/** Subfolder depth searched for checkpoint folders under a dropped folder. */
const MAX_DEPTH = 2;

/** Loose files: each .safetensors is an ingredient, unless an index makes them one sharded checkpoint. */
export function fromLooseFiles(files: { name: string; item: SourceItem }[], folderName = 'dropped checkpoint'): Collected {
  const out: Collected = { inputs: [], skipped: [] };
  if (files.some((f) => f.name === INDEX)) {
    out.inputs.push({ name: folderName, kind: 'folder', files: files.map((f) => [f.name, f.item]) });
    return out;
  }
  for (const f of files) {
    if (isSafetensors(f.name)) out.inputs.push({ name: ingredientNameOf(f.name), kind: 'file', files: [[f.name, f.item]] });
    else out.skipped.push(`${f.name}: not a .safetensors file (add the checkpoint's folder to bring its config and tokenizer files)`);
  }
  return out;
}

/** A folder handle: itself a checkpoint, or a parent of checkpoint folders. */
export async function fromDirectoryHandle(dir: FileSystemDirectoryHandle, depth = 0): Promise<Collected> {
  const entries = await entriesOf(dir);
  const files = entries.filter(([, h]) => h.kind === 'file') as [string, FileSystemFileHandle][];
  if (files.some(([n]) => isSafetensors(n))) {
    return { inputs: [{ name: dir.name, kind: 'folder', files: files.map(([n, h]) => [n, h]), handle: dir }], skipped: [] };
  }
  const out: Collected = { inputs: [], skipped: [] };
  if (depth < MAX_DEPTH) {
    const subdirs = entries.filter(([, h]) => h.kind === 'directory').sort(([a], [b]) => a.localeCompare(b));
    for (const [, sub] of subdirs) {
      const r = await fromDirectoryHandle(sub as FileSystemDirectoryHandle, depth + 1);
      out.inputs.push(...r.inputs);
      out.skipped.push(...r.skipped);
    }
  }
  if (out.inputs.length === 0 && depth === 0) out.skipped.push(`${dir.name}: no .safetensors file in this folder or its subfolders`);
  return out;
}

/** Files from <input webkitdirectory>: grouped by the folder each sits in (webkitRelativePath). */
export function fromDirectoryInput(files: File[]): Collected {
  const byFolder = new Map<string, File[]>();
  for (const f of files) {
    const rel = f.webkitRelativePath || f.name;
    const folder = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), f]);
  }
  const out: Collected = { inputs: [], skipped: [] };
  for (const [folder, list] of [...byFolder].sort(([a], [b]) => a.localeCompare(b))) {
    if (!list.some((f) => isSafetensors(f.name))) continue;
    const name = folder.split('/').pop() || 'checkpoint';
    out.inputs.push({ name, kind: 'folder', files: list.map((f) => [f.name, f]) });
  }
  if (out.inputs.length === 0) out.skipped.push('the chosen folder holds no .safetensors file');
  return out;
}

/** File handles from showOpenFilePicker or a drop. */
export function fromFileHandles(handles: FileSystemFileHandle[]): Collected {
  const r = fromLooseFiles(handles.map((h) => ({ name: h.name, item: h })));
  // Single files picked one by one can be reopened after a reload.
  for (const input of r.inputs) if (input.kind === 'file') input.handle = input.files[0][1] as FileSystemFileHandle;
  return r;
}

// webkitGetAsEntry (no persistent handles): the fallback where getAsFileSystemHandle is missing.
function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function readAllEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function fromDirectoryEntry(dir: FileSystemDirectoryEntry, depth = 0): Promise<Collected> {
  const entries = await readAllEntries(dir);
  const files = entries.filter((e): e is FileSystemFileEntry => e.isFile);
  if (files.some((f) => isSafetensors(f.name))) {
    const list = await Promise.all(files.map(async (f) => [f.name, await entryFile(f)] as [string, File]));
    return { inputs: [{ name: dir.name, kind: 'folder', files: list }], skipped: [] };
  }
  const out: Collected = { inputs: [], skipped: [] };
  if (depth < MAX_DEPTH) {
    for (const sub of entries.filter((e): e is FileSystemDirectoryEntry => e.isDirectory).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = await fromDirectoryEntry(sub, depth + 1);
      out.inputs.push(...r.inputs);
      out.skipped.push(...r.skipped);
    }
  }
  if (out.inputs.length === 0 && depth === 0) out.skipped.push(`${dir.name}: no .safetensors file in this folder or its subfolders`);
  return out;
}

interface CapturedItem {
  handle: Promise<FileSystemHandle | null> | undefined;
  file: File | null;
  entry: FileSystemEntry | null;
}

type ItemWithHandle = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> };

/**
 * Reads a drop. Everything the DataTransfer offers is taken synchronously, in the drop handler's own
 * turn (getAsFileSystemHandle for every item before any await: the items go dead afterwards); the
 * handles, folders and files are then resolved. Call it directly from the drop handler.
 */
export function collectDrop(dt: DataTransfer): Promise<Collected> {
  const captured: CapturedItem[] = [];
  for (const item of Array.from(dt.items)) {
    if (item.kind !== 'file') continue;
    const withHandle = item as ItemWithHandle;
    captured.push({
      handle: typeof withHandle.getAsFileSystemHandle === 'function' ? withHandle.getAsFileSystemHandle() : undefined,
      file: item.getAsFile(),
      entry: typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null,
    });
  }
  // Some browsers give files but no items.
  const plainFiles = captured.length === 0 ? Array.from(dt.files) : [];
  return resolveDrop(captured, plainFiles);
}

async function resolveDrop(captured: CapturedItem[], plainFiles: File[]): Promise<Collected> {
  const out: Collected = { inputs: [], skipped: [] };
  const loose: { name: string; item: SourceItem; handle?: FileSystemFileHandle }[] = [];
  for (const c of captured) {
    const handle = c.handle ? await c.handle.catch(() => null) : null;
    if (handle?.kind === 'directory') {
      const r = await fromDirectoryHandle(handle as FileSystemDirectoryHandle);
      out.inputs.push(...r.inputs);
      out.skipped.push(...r.skipped);
    } else if (handle?.kind === 'file') {
      loose.push({ name: handle.name, item: handle as FileSystemFileHandle, handle: handle as FileSystemFileHandle });
    } else if (c.entry?.isDirectory) {
      const r = await fromDirectoryEntry(c.entry as FileSystemDirectoryEntry);
      out.inputs.push(...r.inputs);
      out.skipped.push(...r.skipped);
    } else if (c.file) {
      loose.push({ name: c.file.name, item: c.file });
    }
  }
  for (const f of plainFiles) loose.push({ name: f.name, item: f });
  const r = fromLooseFiles(loose);
  for (const input of r.inputs) {
    if (input.kind !== 'file') continue;
    const h = loose.find((l) => l.item === input.files[0][1])?.handle;
    if (h) input.handle = h;
  }
  out.inputs.push(...r.inputs);
  out.skipped.push(...r.skipped);
  return out;
}
