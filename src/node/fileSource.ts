import { open, stat, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors';
import { checkRange } from '../formats/memorySource';
import type { ByteSource } from '../formats/types';
import { fsInputError } from './fsErrors';

export interface NodeFileSource extends ByteSource {
  readonly path: string;
  /** Closes the file descriptor if open; reading again reopens it. */
  close(): Promise<void>;
}

/**
 * Descriptors are opened on first read and kept for the next ones, but a soup of several checkpoints
 * of hundreds of shards each would exhaust the process's limit (256 on macOS): at most this many stay
 * open; the least recently used idle one is closed when another is needed.
 */
export const MAX_OPEN_FILES = 64;

interface Descriptor {
  handle: Promise<FileHandle> | undefined;
  /** Reads in flight: a busy descriptor is never closed by the pool. */
  busy: number;
}

let openCount = 0;
/** Idle open descriptors, least recently used first (a Set keeps insertion order). */
const idle = new Set<Descriptor>();
/** Reads waiting for a descriptor slot. */
const waiting: (() => void)[] = [];

/** Frees a slot once the descriptor is really closed, so the count never understates open files. */
function freeSlot(): void {
  openCount--;
  waiting.shift()?.();
}

function closeDescriptor(d: Descriptor): Promise<void> {
  const h = d.handle;
  if (!h) return Promise.resolve();
  d.handle = undefined;
  idle.delete(d);
  // A failed open has freed its slot already.
  return h.then((fh) => fh.close().then(freeSlot, freeSlot), () => undefined);
}

/** Reserves a descriptor slot, closing the least recently used idle descriptor or waiting if need be. */
async function reserveSlot(): Promise<void> {
  // No await between the last check and the increment: concurrent callers cannot overshoot.
  while (openCount >= MAX_OPEN_FILES) {
    const victim = idle.values().next().value;
    if (victim) void closeDescriptor(victim);
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  openCount++;
}

async function acquire(d: Descriptor, path: string, name: string): Promise<FileHandle> {
  d.busy++;
  idle.delete(d);
  try {
    if (!d.handle) {
      const opening = reserveSlot().then(() =>
        open(path, 'r').catch((e: unknown) => {
          freeSlot();
          if (d.handle === opening) d.handle = undefined;
          throw e;
        }),
      );
      d.handle = opening;
    }
    return await d.handle;
  } catch (e) {
    release(d);
    throw fsInputError(name, e);
  }
}

function release(d: Descriptor): void {
  d.busy--;
  if (d.busy > 0) return;
  if (d.handle) idle.add(d);
  // A waiting read can now take this slot by closing it.
  if (waiting.length > 0 && d.handle) void closeDescriptor(d);
}

/**
 * A file on disk with ranged (positional) reads. The size is taken when the source is made; `name`,
 * used in messages, defaults to the path.
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
  const descriptor: Descriptor = { handle: undefined, busy: 0 };
  const readInto = async (offset: number, out: Uint8Array): Promise<void> => {
    const length = out.length;
    checkRange(name, size, offset, length);
    const fh = await acquire(descriptor, path, name);
    try {
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
    } finally {
      release(descriptor);
    }
  };
  return {
    name,
    path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    async close(): Promise<void> {
      await closeDescriptor(descriptor);
    },
  };
}
