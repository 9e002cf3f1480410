import { InputError } from '../errors';
import type { ByteSource } from './types';

/** Bytes already in memory (an ArrayBuffer from a fetch, a test fixture) as a ByteSource. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.length,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, bytes.length, offset, length);
      return bytes.slice(offset, offset + length);
    },
  };
}

/** Throws when [offset, offset + length) is not inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`${name}: invalid read of ${length} bytes at ${offset}`);
  }
  if (offset + length > size) {
    throw new InputError(`${name}: read of ${length} bytes at offset ${offset} runs past the end of the file (${size} bytes)`);
  }
}
