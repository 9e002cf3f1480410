import { bytesSource } from '../../src/formats/memorySource';
import type { ByteSource } from '../../src/formats/types';

/** A safetensors file from a header (object or raw JSON text) and a data buffer (or its length). */
export function rawSafetensors(header: string | object, data: Uint8Array | number = 0, opts: { headerLength?: bigint } = {}): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + bytes.length);
  new DataView(out.buffer).setBigUint64(0, opts.headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes, 8 + json.length);
  return out;
}

export function source(bytes: Uint8Array, name = 'model.safetensors'): ByteSource {
  return bytesSource(bytes, name);
}

export { MemoryTarget } from '../../src/formats/memoryTarget';

/** A source that records every read, to check that only the header is read. */
export function countingSource(inner: ByteSource): ByteSource & { bytesRead: number } {
  const s = {
    name: inner.name,
    size: inner.size,
    bytesRead: 0,
    async read(offset: number, length: number) {
      s.bytesRead += length;
      return inner.read(offset, length);
    },
  };
  return s;
}
