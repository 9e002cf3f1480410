import { InputError } from '../errors';
import { checkRange } from './memorySource';
import type { ByteSource } from './types';

/**
 * A browser File or Blob: each read slices just the requested range, so listing a checkpoint reads only
 * its header and a tensor is read piece by piece.
 */
export function blobSource(blob: Blob, name?: string): ByteSource {
  const label = name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : 'blob');
  return {
    name: label,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(label, blob.size, offset, length);
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
