import { InputError } from '../errors';
import type { ByteSink } from './types';
import type { OutputTarget } from './writer';

/**
 * File System Access API targets (a picked folder or file, or OPFS). A FileSystemWritableFileStream
 * writes to a swap file (Chromium: `.crswap`) that replaces the real file only on close(), and abort()
 * discards it: so every stream stays open until commit(), and abort() leaves the previous content.
 *
 * Chromium deletes an aborted stream's swap file only after abort() has resolved (when the writer is
 * released), so a folder looked at right after a cancelled export can still show `NAME.crswap`. A
 * folder target therefore notes which swap entries its own streams created, and its abort() returns
 * only once they and the entries it created are gone (Chromium refuses to remove a file while its
 * aborted writer lives on, so removal is retried), within SWAP_SETTLE_MS.
 */

interface StreamFile {
  name: string;
  stream: FileSystemWritableFileStream;
  /** True when this target created the (empty) entry: abort() removes it again. */
  created: boolean;
  closed: boolean;
  /** Swap entries that appeared in the folder when this file's stream was opened (folder targets). */
  swaps?: string[];
}

/** How long a folder target's abort() waits for its swap files to disappear. */
export const SWAP_SETTLE_MS = 10_000;
const SWAP_SUFFIX = '.crswap';

async function swapEntries(dir: FileSystemDirectoryHandle): Promise<Set<string>> {
  const out = new Set<string>();
  const keys = (dir as unknown as { keys(): AsyncIterable<string> }).keys();
  for await (const k of keys) if (k.endsWith(SWAP_SUFFIX)) out.add(k);
  return out;
}

/**
 * Removes the entries `names` from `dir`, retrying while the browser still holds them, until each is
 * gone or SWAP_SETTLE_MS has passed (after that the browser's own clean-up is all that is left).
 */
async function removeWhenReleased(dir: FileSystemDirectoryHandle, names: string[]): Promise<void> {
  const deadline = Date.now() + SWAP_SETTLE_MS;
  let pending = [...names];
  for (let delay = 2; pending.length > 0; delay = Math.min(delay * 2, 100)) {
    const left: string[] = [];
    for (const n of pending) {
      try {
        await dir.removeEntry(n);
      } catch (e) {
        if (!(e instanceof DOMException && e.name === 'NotFoundError')) left.push(n);
      }
    }
    pending = left;
    if (pending.length === 0 || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

const isShared = (data: Uint8Array): boolean => typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;

function sinkFor(label: string, file: StreamFile): ByteSink {
  // A writable stream takes no view on shared memory (the merge's slabs): those are copied into one
  // reused buffer, free again once its write has resolved. A fresh copy per write cost the worker
  // ≈ 1.4 s more CPU per 256 MB written (page faults of new memory), measured in Chromium.
  let bounce: ArrayBuffer | undefined;
  let bounceBusy = false;
  return {
    name: file.name,
    async write(data: Uint8Array): Promise<void> {
      if (file.closed) throw new Error(`${label}: write after close`);
      let chunk = data as Uint8Array<ArrayBuffer>;
      let borrowed = false;
      if (isShared(data)) {
        if (bounceBusy) chunk = data.slice() as Uint8Array<ArrayBuffer>;
        else {
          if (!bounce || bounce.byteLength < data.length) bounce = new ArrayBuffer(data.length);
          chunk = new Uint8Array(bounce, 0, data.length);
          chunk.set(data);
          bounceBusy = borrowed = true;
        }
      }
      try {
        await file.stream.write(chunk);
      } catch (e) {
        throw new InputError(`${label}: write failed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        if (borrowed) bounceBusy = false;
      }
    },
    // The swap file becomes the real file in the target's commit(), together with the others.
    async close(): Promise<void> {
      file.closed = true;
    },
    async abort(): Promise<void> {
      file.closed = true;
      await file.stream.abort().catch(() => undefined);
    },
  };
}

async function openStream(handle: FileSystemFileHandle, label: string): Promise<FileSystemWritableFileStream> {
  try {
    return await handle.createWritable({ keepExistingData: false });
  } catch (e) {
    throw new InputError(`${label}: cannot be written (${e instanceof Error ? e.message : String(e)}); is write permission granted?`);
  }
}

async function closeAll(files: StreamFile[], label: string): Promise<void> {
  for (const f of files) {
    if (!f.closed) throw new Error(`${label}: ${f.name}: commit before the file was complete`);
  }
  for (const f of files) {
    try {
      await f.stream.close();
    } catch (e) {
      throw new InputError(`${label}: saving ${f.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** One output file through a FileSystemFileHandle (from showSaveFilePicker or OPFS). */
export function fileHandleTarget(handle: FileSystemFileHandle): OutputTarget {
  let file: StreamFile | undefined;
  let done = false;
  return {
    name: handle.name,
    singleFile: true,
    async createFile(name: string): Promise<ByteSink> {
      if (done) throw new Error(`${handle.name}: target already committed or aborted`);
      if (file) throw new Error(`${handle.name}: a single-file target holds one file, asked for ${name} too`);
      file = { name, stream: await openStream(handle, handle.name), created: false, closed: false };
      return sinkFor(handle.name, file);
    },
    async commit(): Promise<void> {
      if (done) throw new Error(`${handle.name}: target already committed or aborted`);
      done = true;
      await closeAll(file ? [file] : [], handle.name);
    },
    async abort(): Promise<void> {
      done = true;
      await file?.stream.abort().catch(() => undefined);
    },
  };
}

const CHECKPOINT_FILE = /^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$/;

/** A folder target's createFile() before it commits, and once per name. */
function checkNewFile(dir: FileSystemDirectoryHandle, done: boolean, files: { name: string }[], name: string): void {
  if (done) throw new Error(`${dir.name}: target already committed or aborted`);
  if (files.some((f) => f.name === name)) throw new Error(`${dir.name}: ${name} created twice`);
}

/**
 * A checkpoint folder through a FileSystemDirectoryHandle (showDirectoryPicker with mode 'readwrite',
 * or OPFS). Files are swapped in together at commit(); entries this target had to create are removed
 * on abort(). After a commit, old model*.safetensors / index files that the new checkpoint does not
 * replace are removed, so the folder never mixes two checkpoints.
 */
export function directoryHandleTarget(dir: FileSystemDirectoryHandle): OutputTarget {
  const files: StreamFile[] = [];
  let done = false;
  const label = (n: string) => `${dir.name}/${n}`;
  return {
    name: dir.name,
    singleFile: false,
    async createFile(name: string): Promise<ByteSink> {
      checkNewFile(dir, done, files, name);
      let handle: FileSystemFileHandle;
      let created = false;
      try {
        handle = await dir.getFileHandle(name);
      } catch {
        try {
          handle = await dir.getFileHandle(name, { create: true });
          created = true;
        } catch (e) {
          throw new InputError(`${label(name)}: cannot be created (${e instanceof Error ? e.message : String(e)})`);
        }
      }
      const entry: StreamFile = { name, stream: undefined as unknown as FileSystemWritableFileStream, created, closed: false };
      files.push(entry);
      const swapsBefore = await swapEntries(dir);
      entry.stream = await openStream(handle, label(name));
      entry.swaps = [...(await swapEntries(dir))].filter((k) => !swapsBefore.has(k));
      return sinkFor(label(name), entry);
    },
    async commit(): Promise<void> {
      if (done) throw new Error(`${dir.name}: target already committed or aborted`);
      done = true;
      await closeAll(files, dir.name);
      const written = new Set(files.map((f) => f.name));
      if (!files.some((f) => CHECKPOINT_FILE.test(f.name))) return;
      const keys = (dir as unknown as { keys(): AsyncIterable<string> }).keys();
      const stale: string[] = [];
      for await (const k of keys) if (CHECKPOINT_FILE.test(k) && !written.has(k)) stale.push(k);
      for (const k of stale) await dir.removeEntry(k).catch(() => undefined);
    },
    async abort(): Promise<void> {
      done = true;
      for (const f of files) await f.stream?.abort().catch(() => undefined);
      // The created entries too: Chromium refuses to remove a file while its aborted writer lives on.
      await removeWhenReleased(dir, files.flatMap((f) => [...(f.created ? [f.name] : []), ...(f.swaps ?? [])]));
    },
  };
}

/** The synchronous OPFS file API of dedicated workers (FileSystemSyncAccessHandle), as far as used here. */
interface SyncAccessHandle {
  write(data: AllowSharedBufferSource, opts: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

type SyncCapableHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

/** True in a dedicated worker, where OPFS files can be written synchronously. */
export function syncAccessAvailable(): boolean {
  return typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
}

/**
 * A new folder in the origin private file system, written through FileSystemSyncAccessHandle from a
 * dedicated worker: each write goes straight to the file, without the stream's swap file and the
 * round trip to the browser process per write (several times faster than createWritable). The files
 * are written in place, so the folder must be one this merge created and removes when it fails: abort()
 * removes every file it created.
 */
export function opfsSyncFolderTarget(dir: FileSystemDirectoryHandle): OutputTarget {
  const files: { name: string; handle: SyncAccessHandle | undefined }[] = [];
  let done = false;
  const label = (n: string) => `${dir.name}/${n}`;
  const closeHandle = (f: { handle: SyncAccessHandle | undefined }) => {
    const h = f.handle;
    f.handle = undefined;
    h?.close();
  };
  return {
    name: dir.name,
    singleFile: false,
    async createFile(name: string): Promise<ByteSink> {
      checkNewFile(dir, done, files, name);
      const entry: { name: string; handle: SyncAccessHandle | undefined } = { name, handle: undefined };
      files.push(entry);
      try {
        const fh = (await dir.getFileHandle(name, { create: true })) as SyncCapableHandle;
        entry.handle = await fh.createSyncAccessHandle();
        entry.handle.truncate(0);
      } catch (e) {
        throw new InputError(`${label(name)}: cannot be created (${e instanceof Error ? e.message : String(e)})`);
      }
      let position = 0;
      return {
        name,
        async write(data: Uint8Array): Promise<void> {
          const h = entry.handle;
          if (!h) throw new Error(`${label(name)}: write after close`);
          try {
            let at = 0;
            while (at < data.length) at += h.write(data.subarray(at), { at: position + at });
          } catch (e) {
            throw new InputError(`${label(name)}: write failed: ${e instanceof Error ? e.message : String(e)}`);
          }
          position += data.length;
        },
        async close(): Promise<void> {
          try {
            entry.handle?.flush();
          } catch (e) {
            throw new InputError(`${label(name)}: saving failed: ${e instanceof Error ? e.message : String(e)}`);
          } finally {
            closeHandle(entry);
          }
        },
        async abort(): Promise<void> {
          closeHandle(entry);
          await dir.removeEntry(name).catch(() => undefined);
        },
      };
    },
    async commit(): Promise<void> {
      if (done) throw new Error(`${dir.name}: target already committed or aborted`);
      done = true;
      const open = files.filter((f) => f.handle);
      if (open.length > 0) throw new Error(`${dir.name}: ${open[0].name}: commit before the file was complete`);
    },
    async abort(): Promise<void> {
      done = true;
      for (const f of files) {
        closeHandle(f);
        await dir.removeEntry(f.name).catch(() => undefined);
      }
    },
  };
}
