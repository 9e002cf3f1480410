import { open, stat, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors';
import { checkRange } from '../formats/memorySource';
import type { ByteSource } from '../formats/types';
import { fsInputError } from './fsErrors';

export interface NodeFileSource extends ByteSource {
  readonly path: string;
  /** Closes the file descriptor (opened on the first read); reading again reopens it. */
  close(): Promise<void>;
}

/**
 * A file on disk with ranged reads (positional reads on one descriptor, opened lazily so a folder of
 * many files costs no descriptors until they are read). `name` defaults to the path.
 */
export async function nodeFileSource(path: string, name: string = path): Promise<NodeFileSource> {
  let size: number;
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    size = s.size;
  } catch (e) {
    throw fsInputError(name, e);
  }
  let handle: Promise<FileHandle> | undefined;
  const getHandle = () => {
    handle ??= open(path, 'r').catch((e: unknown) => {
      handle = undefined;
      throw fsInputError(name, e);
    });
    return handle;
  };
  return {
    name,
    path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, size, offset, length);
      const fh = await getHandle();
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(out, done, length - done, offset + done));
        } catch (e) {
          throw fsInputError(name, e, 'read failed');
        }
        if (bytesRead === 0) {
          throw new InputError(`${name}: the file ended after ${offset + done} bytes, but was ${size} bytes when opened (changed while reading?)`);
        }
        done += bytesRead;
      }
      return out;
    },
    async close(): Promise<void> {
      const h = handle;
      handle = undefined;
      if (h) await (await h.catch(() => undefined))?.close();
    },
  };
}
