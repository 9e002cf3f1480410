import { InputError } from '../errors';
import type { ByteSink } from './types';
import type { OutputTarget } from './writer';

/**
 * File System Access API targets (a picked folder or file, or OPFS). A FileSystemWritableFileStream
 * writes to a swap file (Chromium: `.crswap`) that replaces the real file only on close(), and abort()
 * discards it: so every stream stays open until commit(), and abort() leaves the previous content.
 */

interface StreamFile {
  name: string;
  stream: FileSystemWritableFileStream;
  /** True when this target created the (empty) entry: abort() removes it again. */
  created: boolean;
  closed: boolean;
}

function sinkFor(label: string, file: StreamFile): ByteSink {
  return {
    name: file.name,
    async write(data: Uint8Array): Promise<void> {
      if (file.closed) throw new Error(`${label}: write after close`);
      try {
        await file.stream.write(data as Uint8Array<ArrayBuffer>);
      } catch (e) {
        throw new InputError(`${label}: write failed: ${e instanceof Error ? e.message : String(e)}`);
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
      if (done) throw new Error(`${dir.name}: target already committed or aborted`);
      if (files.some((f) => f.name === name)) throw new Error(`${dir.name}: ${name} created twice`);
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
      entry.stream = await openStream(handle, label(name));
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
      for (const f of files) {
        await f.stream?.abort().catch(() => undefined);
        if (f.created) await dir.removeEntry(f.name).catch(() => undefined);
      }
    },
  };
}
