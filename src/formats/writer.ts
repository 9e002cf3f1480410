import { InputError } from '../errors';
import { byteLengthOf, isDtype, numelOf, type Dtype } from './dtype';
import { INDEX_FILE, SINGLE_FILE } from './checkpoint';
import type { ByteSink } from './types';

export interface OutputTensorSpec {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/** A folder or a single file that receives a checkpoint: all or nothing. */
export interface OutputTarget {
  readonly name: string;
  /** True when the target is one file: it accepts exactly one createFile() and sharding is impossible. */
  readonly singleFile?: boolean;
  createFile(name: string): Promise<ByteSink>;
  /** Every file becomes visible, or none. */
  commit(): Promise<void>;
  /** Removes everything written; the previous content at the target stays. */
  abort(): Promise<void>;
  /**
   * After commit(): the name of the first file it placed that another writer has since replaced (its
   * name now holds another file), or undefined. Lets a merge that lost a race into the same place say so
   * instead of reporting the other merge's file as its own mistake.
   */
  replacedAfterCommit?(): Promise<string | undefined>;
}

/** The writer was used out of order: a bug in the caller, not bad input. */
export class WriterUsageError extends Error {
  override name = 'WriterUsageError';
}

export const DEFAULT_MAX_SHARD_BYTES = 5e9;
/** Small appends are gathered into writes of this size; large ones go straight through. */
const COALESCE_BYTES = 4 << 20;

interface PlannedTensor extends OutputTensorSpec {
  byteLength: number;
  shard: number;
}

interface PlannedShard {
  file: string;
  header: Uint8Array;
}

/**
 * Streams a safetensors checkpoint to a target. The header(s) are computed up front from the list of
 * output tensors; the tensors are then appended in that order, each one's bytes in order, in chunks of
 * any size. With more bytes than `maxShardBytes` the output is sharded Hugging Face style
 * (model-0000k-of-0000n.safetensors + model.safetensors.index.json). Any failure aborts the target.
 */
export class SafetensorsWriter {
  readonly files: string[];
  /** Sum of all tensor bytes (what index.json calls total_size). */
  readonly totalTensorBytes: number;
  private readonly tensors: PlannedTensor[];
  private readonly shards: PlannedShard[];
  private current = 0;
  private writtenOfCurrent = 0;
  private openShard = -1;
  private sink: ByteSink | undefined;
  private staging = new Uint8Array(0);
  private staged = 0;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private written = 0;

  private constructor(
    private readonly target: OutputTarget,
    tensors: PlannedTensor[],
    shards: PlannedShard[],
  ) {
    this.tensors = tensors;
    this.shards = shards;
    this.totalTensorBytes = tensors.reduce((s, t) => s + t.byteLength, 0);
    this.files = shards.map((s) => s.file);
    if (shards.length > 1) this.files.push(INDEX_FILE);
  }

  static async create(
    target: OutputTarget,
    tensors: OutputTensorSpec[],
    opts: { metadata?: Record<string, string>; maxShardBytes?: number } = {},
  ): Promise<SafetensorsWriter> {
    const metadata = opts.metadata ?? {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new InputError(`${target.name}: metadata value for "${k}" must be a string`);
    }
    const maxShardBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
    if (!(maxShardBytes > 0)) throw new InputError(`${target.name}: the maximum shard size must be positive, got ${maxShardBytes}`);
    const planned = planTensors(target.name, tensors);

    const groups: number[][] = [];
    let bytes = 0;
    planned.forEach((t, i) => {
      if (groups.length === 0 || (bytes + t.byteLength > maxShardBytes && groups[groups.length - 1].length > 0)) {
        groups.push([]);
        bytes = 0;
      }
      groups[groups.length - 1].push(i);
      bytes += t.byteLength;
      t.shard = groups.length - 1;
    });
    if (groups.length === 0) groups.push([]);
    if (groups.length > 1 && target.singleFile) {
      throw new InputError(
        `${target.name}: the output needs ${groups.length} shards of at most ${maxShardBytes} bytes, but a single file was chosen; write to a folder instead`,
      );
    }
    const n = groups.length;
    const pad = (k: number) => String(k).padStart(5, '0');
    const shards = groups.map((g, k) => ({
      file: n === 1 ? SINGLE_FILE : `model-${pad(k + 1)}-of-${pad(n)}.safetensors`,
      header: encodeHeader(g.map((i) => planned[i]), metadata),
    }));
    return new SafetensorsWriter(target, planned, shards);
  }

  /** Bytes handed to the target so far, headers included. */
  get bytesWritten(): number {
    return this.written + this.staged;
  }

  async append(tensorName: string, bytes: Uint8Array): Promise<void> {
    await this.guard(async () => {
      await this.advanceTo(tensorName);
      const t = this.tensors[this.current];
      if (this.writtenOfCurrent + bytes.length > t.byteLength) {
        throw new WriterUsageError(
          `tensor ${tensorName}: ${this.writtenOfCurrent + bytes.length} bytes appended, but ${t.dtype} ${JSON.stringify(t.shape)} holds ${t.byteLength}`,
        );
      }
      await this.write(bytes);
      this.writtenOfCurrent += bytes.length;
    });
  }

  async finish(): Promise<void> {
    await this.guard(async () => {
      await this.advanceTo(undefined);
      // A checkpoint without tensors still gets its (header-only) file.
      if (this.openShard === -1) await this.enterShard(0);
      await this.closeShard();
      if (this.shards.length > 1) {
        const index = await this.target.createFile(INDEX_FILE);
        await index.write(new TextEncoder().encode(this.indexJson()));
        await index.close();
      }
      await this.target.commit();
      this.state = 'finished';
    });
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    const sink = this.sink;
    this.sink = undefined;
    try {
      await sink?.abort();
    } finally {
      await this.target.abort();
    }
  }

  private async guard(work: () => Promise<void>): Promise<void> {
    if (this.state !== 'open') throw new WriterUsageError(`${this.target.name}: the writer is already ${this.state}`);
    try {
      await work();
    } catch (e) {
      await this.abort().catch(() => undefined);
      throw e;
    }
  }

  /** Moves past complete tensors up to `name` (or to the end), opening shards on the way. */
  private async advanceTo(name: string | undefined): Promise<void> {
    for (;;) {
      const t = this.tensors[this.current];
      if (t === undefined) {
        if (name === undefined) return;
        const known = this.tensors.some((x) => x.name === name);
        throw new WriterUsageError(`tensor ${name}: ${known ? 'already complete' : 'is not in the output list'}`);
      }
      await this.enterShard(t.shard);
      if (t.name === name) return;
      if (this.writtenOfCurrent < t.byteLength) {
        throw new WriterUsageError(
          `tensor ${t.name} has ${this.writtenOfCurrent} of its ${t.byteLength} bytes; ${name === undefined ? 'cannot finish' : `cannot start ${name}`}`,
        );
      }
      this.current++;
      this.writtenOfCurrent = 0;
    }
  }

  private async enterShard(shard: number): Promise<void> {
    while (this.openShard < shard) {
      await this.closeShard();
      this.openShard++;
      const s = this.shards[this.openShard];
      this.sink = await this.target.createFile(s.file);
      await this.write(s.header);
    }
  }

  private async closeShard(): Promise<void> {
    if (!this.sink) return;
    await this.flush();
    const sink = this.sink as ByteSink;
    this.sink = undefined;
    await sink.close();
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= COALESCE_BYTES / 4) {
      await this.flush();
      await (this.sink as ByteSink).write(bytes);
      this.written += bytes.length;
      return;
    }
    if (this.staged + bytes.length > this.staging.length) {
      await this.flush();
      if (this.staging.length === 0) this.staging = new Uint8Array(COALESCE_BYTES);
    }
    this.staging.set(bytes, this.staged);
    this.staged += bytes.length;
  }

  private async flush(): Promise<void> {
    if (this.staged === 0) return;
    const data = this.staging.subarray(0, this.staged);
    await (this.sink as ByteSink).write(data);
    this.written += this.staged;
    this.staged = 0;
  }

  private indexJson(): string {
    const entries = this.tensors
      .map((t) => [t.name, this.shards[t.shard].file] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([t, f]) => `    ${JSON.stringify(t)}: ${JSON.stringify(f)}`);
    return `{\n  "metadata": {\n    "total_size": ${this.totalTensorBytes}\n  },\n  "weight_map": {\n${entries.join(',\n')}\n  }\n}\n`;
  }
}

function planTensors(targetName: string, specs: OutputTensorSpec[]): PlannedTensor[] {
  const seen = new Set<string>();
  return specs.map((s) => {
    const bad = (why: string): never => {
      throw new InputError(`${targetName}: output tensor ${s.name}: ${why}`);
    };
    if (s.name === '__metadata__') bad('this name is reserved by safetensors');
    if (seen.has(s.name)) bad('is listed twice');
    seen.add(s.name);
    if (!isDtype(s.dtype)) bad(`unknown dtype ${String(s.dtype)}`);
    for (const d of s.shape) if (!Number.isSafeInteger(d) || d < 0) bad(`bad dimension ${d} in shape ${JSON.stringify(s.shape)}`);
    const byteLength = byteLengthOf(s.dtype, numelOf(s.shape));
    if (byteLength === undefined || !Number.isSafeInteger(byteLength)) bad(`${s.dtype} ${JSON.stringify(s.shape)} is not a whole number of bytes`);
    return { name: s.name, dtype: s.dtype, shape: [...s.shape], byteLength: byteLength as number, shard: 0 };
  });
}

/** The 8-byte length plus the JSON header, padded with spaces so the data starts 8-aligned. */
function encodeHeader(tensors: PlannedTensor[], metadata: Record<string, string>): Uint8Array {
  // Built by hand: JSON.stringify of an object would move integer-like tensor names to the front.
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of tensors) {
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + t.byteLength}]}`);
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}
