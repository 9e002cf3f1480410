import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint, type Checkpoint } from '../../src/formats/checkpoint';
import { byteLengthOf, DTYPE_BITS, numelOf, type Dtype } from '../../src/formats/dtype';
import { readTensorChunks } from '../../src/formats/tensorChunks';
import { SafetensorsWriter, type OutputTarget } from '../../src/formats/writer';
import { nodeFolderTarget } from '../../src/node/fileTargets';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { MemoryTarget } from './helpers';

const dtypes = Object.keys(DTYPE_BITS) as Dtype[];

interface GeneratedTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
}

const tensorArb = fc
  .record({
    dtype: fc.constantFrom(...dtypes),
    // 0-rank ([]) and empty (a 0 dimension) tensors included.
    shape: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
  })
  .filter(({ dtype, shape }) => byteLengthOf(dtype, numelOf(shape)) !== undefined)
  .chain(({ dtype, shape }) =>
    fc.uint8Array({ minLength: byteLengthOf(dtype, numelOf(shape))!, maxLength: byteLengthOf(dtype, numelOf(shape))! }).map((bytes) => ({ dtype, shape, bytes })),
  );

const checkpointArb = fc.record({
  tensors: fc
    .uniqueArray(fc.tuple(fc.string({ minLength: 0, maxLength: 12, unit: fc.oneof(fc.constantFrom('.', '_', '0', 'é', '"', '\\', '\n'), fc.constantFrom('a', 'b', 'z', 'Q', '9', ' ', '\u{1F600}')) }), tensorArb), {
      maxLength: 12,
      selector: ([name]) => name,
    })
    .map((list) => list.filter(([name]) => name !== '__metadata__').map(([name, t]): GeneratedTensor => ({ name, ...t }))),
  metadata: fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
  maxShardBytes: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 80 })),
  chunkBytes: fc.integer({ min: 1, max: 40 }),
});

async function writeCheckpoint(target: OutputTarget, c: GeneratedCheckpoint): Promise<string[]> {
  const w = await SafetensorsWriter.create(
    target,
    c.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    { metadata: c.metadata, maxShardBytes: c.maxShardBytes },
  );
  for (const t of c.tensors) {
    // Appended in uneven pieces, as a merge produces them.
    for (let o = 0; o < t.bytes.length; o += c.chunkBytes) await w.append(t.name, t.bytes.subarray(o, o + c.chunkBytes));
  }
  await w.finish();
  return w.files;
}

async function expectSame(cp: Checkpoint, c: GeneratedCheckpoint, files: string[]): Promise<void> {
  expect(cp.sharded).toBe(files.length > 1);
  expect(cp.files.map((f) => f.name)).toEqual(files.filter((f) => f.endsWith('.safetensors')));
  expect(cp.metadata).toEqual(c.metadata);
  expect(cp.tensors.size).toBe(c.tensors.length);
  // Non-empty tensors come back in the order written (empty ones share an offset with a neighbour).
  const written = c.tensors.filter((t) => t.bytes.length > 0).map((t) => t.name);
  expect([...cp.tensors.values()].filter((t) => t.info.byteLength > 0).map((t) => t.info.name)).toEqual(written);
  for (const t of c.tensors) {
    const got = cp.tensors.get(t.name);
    expect(got, t.name).toBeDefined();
    expect(got!.info.dtype).toBe(t.dtype);
    expect(got!.info.shape).toEqual(t.shape);
    const parts: Uint8Array[] = [];
    for await (const chunk of readTensorChunks(got!, { chunkBytes: c.chunkBytes })) parts.push(chunk);
    expect(Buffer.concat(parts).equals(Buffer.from(t.bytes))).toBe(true);
  }
}

type GeneratedCheckpoint = typeof checkpointArb extends fc.Arbitrary<infer T> ? T : never;

const tempDirs: string[] = [];
afterAll(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

describe('written checkpoints read back bit-exactly', () => {
  it('in memory: every dtype, 0-rank and empty tensors, sharded and not', async () => {
    await fc.assert(
      fc.asyncProperty(checkpointArb, async (c) => {
        const target = new MemoryTarget();
        const files = await writeCheckpoint(target, c);
        await expectSame(await openCheckpoint(target.sources(), 'out'), c, files);
      }),
      { numRuns: 150 },
    );
  });

  it('on disk through the Node folder target', async () => {
    const root = await mkdtemp(join(tmpdir(), 'souplab-roundtrip-'));
    tempDirs.push(root);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(checkpointArb, async (c) => {
        const dir = join(root, `run-${run++}`);
        const files = await writeCheckpoint(nodeFolderTarget(dir), c);
        const cp = await openCheckpointPath(dir);
        try {
          await expectSame(cp, c, files);
        } finally {
          await cp.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});
