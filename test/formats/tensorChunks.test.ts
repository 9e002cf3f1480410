import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { chunkAlignment, readTensorChunks } from '../../src/formats/tensorChunks';
import { CancelledError } from '../../src/errors';
import { countingSource, rawSafetensors, source } from './helpers';

async function tensorOf(dtype: string, shape: number[], data: Uint8Array) {
  const file = rawSafetensors({ pad: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, t: { dtype, shape, data_offsets: [3, 3 + data.length] } }, new Uint8Array([9, 9, 9, ...data]));
  const cp = await openCheckpoint(countingSource(source(file)));
  return cp.tensors.get('t')!;
}

async function collect(gen: AsyncGenerator<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

const data = Uint8Array.from({ length: 120 }, (_, i) => (i * 7) & 255);

describe('readTensorChunks', () => {
  it('aligns pieces to whole elements and multiples of 4 bytes', () => {
    expect(chunkAlignment('F64')).toBe(8);
    expect(chunkAlignment('BF16')).toBe(4);
    expect(chunkAlignment('U8')).toBe(4);
    expect(chunkAlignment('F4')).toBe(4);
    expect(chunkAlignment('F6_E2M3')).toBe(12);
  });

  it('reads a tensor in bounded pieces that concatenate to its bytes', async () => {
    const t = await tensorOf('F64', [15], data);
    const chunks = await collect(readTensorChunks(t, { chunkBytes: 30 }));
    expect(chunks.map((c) => c.length)).toEqual([24, 24, 24, 24, 24]);
    expect([...chunks.flatMap((c) => [...c])]).toEqual([...data]);
    const tiny = await collect(readTensorChunks(t, { chunkBytes: 1 }));
    expect(tiny.every((c) => c.length === 8)).toBe(true);
  });

  it('reads a sub-range, the last piece shorter', async () => {
    const t = await tensorOf('BF16', [60], data);
    const chunks = await collect(readTensorChunks(t, { chunkBytes: 16, offsetBytes: 10, lengthBytes: 38 }));
    expect(chunks.map((c) => c.length)).toEqual([16, 16, 6]);
    expect(chunks.flatMap((c) => [...c])).toEqual([...data.subarray(10, 48)]);
    expect(await collect(readTensorChunks(t, { chunkBytes: 16, offsetBytes: 120 }))).toEqual([]);
    await expect(collect(readTensorChunks(t, { chunkBytes: 16, offsetBytes: 110, lengthBytes: 20 }))).rejects.toThrow(RangeError);
    await expect(collect(readTensorChunks(t, { chunkBytes: 16, offsetBytes: 3 }))).rejects.toThrow(/element boundary/);
  });

  it('never reads more than two pieces ahead of the consumer', async () => {
    const t = await tensorOf('U8', [120], data);
    const src = t.source as ReturnType<typeof countingSource>;
    const before = src.bytesRead;
    const gen = readTensorChunks(t, { chunkBytes: 8 });
    await gen.next();
    expect(src.bytesRead - before).toBe(16); // the piece handed out and the one prefetched
    await gen.return(undefined);
  });

  it('stops with CancelledError when the signal fires', async () => {
    const t = await tensorOf('U8', [120], data);
    const controller = new AbortController();
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const c of readTensorChunks(t, { chunkBytes: 8, signal: controller.signal })) {
          seen.push(c.length);
          if (seen.length === 2) controller.abort();
        }
      })(),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(seen.length).toBe(2);
  });
});
