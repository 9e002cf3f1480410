import { InputError } from '../errors';
import { checkRange } from './memorySource';
import type { ByteSource } from './types';

export interface BlobSourceOptions {
  /**
   * Reads of at least 1 MiB are served from blocks of this many bytes, read whole, the next one
   * ahead: for streaming a file through, as a merge does. Each Blob.slice read of a file on disk costs
   * Chromium a fixed round trip between processes; 4 MiB slices took about 3 × the CPU time of 64 MiB
   * ones. Small reads (headers) always go straight to the file.
   */
  readAheadBytes?: number;
}

const READ_AHEAD_MIN_READ = 1 << 20;

/**
 * A browser File or Blob: each read slices just the requested range, so listing a checkpoint reads only
 * its header and a tensor is read piece by piece (in large blocks with `readAheadBytes`).
 */
export function blobSource(blob: Blob, name?: string, opts: BlobSourceOptions = {}): ByteSource {
  const label = name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : 'blob');
  const readRange = async (offset: number, length: number): Promise<Uint8Array> => {
    let buffer: ArrayBuffer;
    try {
      buffer = await blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      // Chromium raises NotReadableError when the file changed or vanished after it was picked.
      const why = e instanceof Error ? e.message : String(e);
      throw new InputError(`${label}: cannot be read any more (changed or removed since it was opened?): ${why}`);
    }
    if (buffer.byteLength !== length) {
      throw new InputError(`${label}: read ${buffer.byteLength} of ${length} bytes at offset ${offset} (file changed since it was opened?)`);
    }
    return new Uint8Array(buffer);
  };
  const blocks = opts.readAheadBytes ? readAheadBlocks(readRange, blob.size, opts.readAheadBytes) : undefined;
  return {
    name: label,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(label, blob.size, offset, length);
      if (!blocks || length < READ_AHEAD_MIN_READ) return readRange(offset, length);
      const out = new Uint8Array(length);
      await blocks.copy(offset, out);
      return out;
    },
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(label, blob.size, offset, target.length);
      if (!blocks || target.length < READ_AHEAD_MIN_READ) target.set(await readRange(offset, target.length));
      else await blocks.copy(offset, target);
    },
  };
}

/**
 * Fixed blocks [k·B, (k+1)·B) of a source, the one in use kept and the next one read ahead of the one
 * asked for. Reads in flight at several offsets (a merge's jobs) share the blocks they fall in.
 */
function readAheadBlocks(readRange: (offset: number, length: number) => Promise<Uint8Array>, size: number, blockBytes: number) {
  const KEEP = 2;
  const cache = new Map<number, Promise<Uint8Array>>();
  const block = (k: number): Promise<Uint8Array> => {
    let p = cache.get(k);
    if (p) {
      cache.delete(k); // re-inserted: most recently used last
    } else {
      const start = k * blockBytes;
      p = readRange(start, Math.min(blockBytes, size - start));
      p.catch(() => cache.delete(k));
    }
    cache.set(k, p);
    while (cache.size > KEEP) cache.delete(cache.keys().next().value as number);
    return p;
  };
  return {
    async copy(offset: number, target: Uint8Array): Promise<void> {
      const end = offset + target.length;
      const last = Math.floor((end - 1) / blockBytes);
      if ((last + 1) * blockBytes < size) void block(last + 1).catch(() => undefined);
      for (let k = Math.floor(offset / blockBytes); k <= last; k++) {
        const data = await block(k);
        const from = Math.max(offset, k * blockBytes);
        const to = Math.min(end, (k + 1) * blockBytes);
        target.set(data.subarray(from - k * blockBytes, to - k * blockBytes), from - offset);
      }
    },
  };
}

/** A FileSystemFileHandle (File System Access API or OPFS), read through a snapshot File. */
export async function fileHandleSource(handle: FileSystemFileHandle): Promise<ByteSource> {
  let file: File;
  try {
    file = await handle.getFile();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new InputError(`${handle.name}: cannot be opened: ${why}`);
  }
  return blobSource(file, handle.name);
}
