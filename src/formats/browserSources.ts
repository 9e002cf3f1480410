import { InputError } from '../errors';
import { checkRange } from './memorySource';
import type { ByteSource } from './types';

/** A browser File or Blob as a ByteSource; close() ends the stream readInto keeps open. */
export interface BlobByteSource extends ByteSource {
  readInto(offset: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Size of the buffer a Blob stream is read through (reused: see blobSource). Chromium hands a file's
 * bytes over in pieces of a few hundred KB whatever the size asked for.
 */
const BOUNCE_BYTES = 4 << 20;

function unreadable(label: string, e: unknown): InputError {
  // Chromium raises NotReadableError when the file changed or vanished after it was picked.
  const why = e instanceof Error ? e.message : String(e);
  return new InputError(`${label}: cannot be read any more (changed or removed since it was opened?): ${why}`);
}

/**
 * A browser File or Blob: each read() slices just the requested range, so listing a checkpoint reads
 * only its header and a tensor is read piece by piece.
 *
 * readInto() (the merge's reads into its reused shared slabs) streams instead: one Blob stream stays
 * open at the position the last read ended, and is read with a BYOB reader through one reused buffer.
 * Measured in Chromium (issue 12 §3): each `slice().arrayBuffer()` returns a fresh ArrayBuffer, and the
 * page faults of fresh memory cost the reading thread as much as allocating and touching it (≈ 1.2 s
 * of CPU per 256 MB, whatever the slice size); streaming through a reused buffer costs ≈ 0.1 s in that
 * thread and less in the browser process too. Reads at other offsets reopen the stream there; reads
 * of one source run one after another (the merge asks in order; concurrent calls queue).
 */
export function blobSource(blob: Blob, name?: string): BlobByteSource {
  const label = name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : 'blob');
  let reader: ReadableStreamBYOBReader | undefined;
  /** Where the open stream stands (absolute offset). */
  let position = -1;
  let bounce: ArrayBuffer | undefined;
  let byob = true;
  let queue: Promise<void> = Promise.resolve();

  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    checkRange(label, blob.size, offset, length);
    let buffer: ArrayBuffer;
    try {
      buffer = await blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw unreadable(label, e);
    }
    if (buffer.byteLength !== length) {
      throw new InputError(`${label}: read ${buffer.byteLength} of ${length} bytes at offset ${offset} (file changed since it was opened?)`);
    }
    return new Uint8Array(buffer);
  };

  const drop = (): void => {
    const r = reader;
    reader = undefined;
    position = -1;
    r?.cancel().catch(() => undefined);
  };

  const open = (offset: number): ReadableStreamBYOBReader | undefined => {
    try {
      return blob.slice(offset).stream().getReader({ mode: 'byob' });
    } catch {
      // A browser whose Blob streams are not byte streams: read() and a copy, as before.
      byob = false;
      return undefined;
    }
  };

  const streamInto = async (offset: number, target: Uint8Array): Promise<void> => {
    if (reader === undefined || position !== offset) {
      drop();
      reader = open(offset);
      if (!reader) {
        target.set(await read(offset, target.length));
        return;
      }
      position = offset;
    }
    const r = reader;
    let done = 0;
    try {
      while (done < target.length) {
        bounce ??= new ArrayBuffer(BOUNCE_BYTES);
        const want = Math.min(bounce.byteLength, target.length - done);
        const piece = await r.read(new Uint8Array(bounce, 0, want));
        if (piece.done || !piece.value) {
          throw new InputError(`${label}: the file ended after ${offset + done} bytes, but was ${blob.size} bytes when opened (changed while reading?)`);
        }
        // The buffer was transferred into the stream and comes back in the answer: reused next time.
        bounce = piece.value.buffer as ArrayBuffer;
        target.set(piece.value, done);
        done += piece.value.length;
      }
    } catch (e) {
      if (reader === r) drop();
      bounce = undefined;
      throw e instanceof InputError ? e : unreadable(label, e);
    }
    position = offset + done;
  };

  return {
    name: label,
    size: blob.size,
    read,
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(label, blob.size, offset, target.length);
      if (!byob) return target.set(await read(offset, target.length));
      const next = queue.then(() => streamInto(offset, target));
      queue = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      await queue;
      drop();
      bounce = undefined;
    },
  };
}

/** A FileSystemFileHandle (File System Access API or OPFS), read through a snapshot File. */
export async function fileHandleSource(handle: FileSystemFileHandle): Promise<BlobByteSource> {
  let file: File;
  try {
    file = await handle.getFile();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new InputError(`${handle.name}: cannot be opened: ${why}`);
  }
  return blobSource(file, handle.name);
}
