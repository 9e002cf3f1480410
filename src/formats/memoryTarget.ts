import type { ByteSink, ByteSource } from './types';
import type { OutputTarget } from './writer';
import { bytesSource } from './memorySource';

/**
 * An in-memory OutputTarget with the same all-or-nothing contract as the file targets: files become
 * visible in `committed` only on commit(). For generated models (tests, benchmarks) and downloads.
 */
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
    for (const [name, parts] of this.pending) this.committed.set(name, concatBytes(parts));
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

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}
