import { bytesSource } from '../../src/formats/memorySource';
import type { ByteSink, ByteSource } from '../../src/formats/types';
import type { OutputTarget } from '../../src/formats/writer';

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

/** An in-memory OutputTarget with the same all-or-nothing contract as the real ones. */
export class MemoryTarget implements OutputTarget {
  readonly committed = new Map<string, Uint8Array>();
  readonly pending = new Map<string, Uint8Array[]>();
  state: 'open' | 'committed' | 'aborted' = 'open';
  constructor(
    readonly name = 'memory',
    readonly singleFile = false,
  ) {}

  async createFile(name: string): Promise<ByteSink> {
    if (this.state !== 'open') throw new Error('target closed');
    if (this.singleFile && this.pending.size > 0) throw new Error('single file target');
    const parts: Uint8Array[] = [];
    this.pending.set(name, parts);
    return {
      name,
      write: async (d) => void parts.push(d.slice()),
      close: async () => undefined,
      abort: async () => void this.pending.delete(name),
    };
  }

  async commit(): Promise<void> {
    for (const [name, parts] of this.pending) {
      const size = parts.reduce((s, p) => s + p.length, 0);
      const all = new Uint8Array(size);
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      this.committed.set(name, all);
    }
    this.pending.clear();
    this.state = 'committed';
  }

  async abort(): Promise<void> {
    this.pending.clear();
    this.state = 'aborted';
  }

  sources(): Map<string, ByteSource> {
    return new Map([...this.committed].map(([k, v]) => [k, bytesSource(v, k)]));
  }
}

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
