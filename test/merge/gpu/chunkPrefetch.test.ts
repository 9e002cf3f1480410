/** The GPU drivers' read-ahead (src/merge/gpu/chunkPrefetch.ts): the source's bytes, each foreseen range read once, before it is asked for. */
import { describe, expect, it } from 'vitest';
import { prefetchingChunks } from '../../../src/merge/gpu/chunkPrefetch';
import type { TensorChunkSource } from '../../../src/merge/program/tensorStats';

/** One F32 input whose element e is e; the ranges read, in order. */
function counting(elementCount: number): TensorChunkSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    elementCount,
    dtypes: ['F32'],
    reads,
    read: async (start, count) => {
      reads.push([start, count]);
      return [new Uint8Array(Float32Array.from({ length: count }, (_, i) => start + i).buffer)];
    },
  };
}

const values = async (s: TensorChunkSource, start: number, count: number): Promise<number[]> => Array.from(new Float32Array((await s.read(start, count))[0].buffer));

describe('prefetchingChunks', () => {
  it('in equal steps: the next chunk is read when this one is, never twice, none past the end', async () => {
    const source = counting(10);
    const ahead = prefetchingChunks(source);
    expect(await values(ahead, 0, 4)).toEqual([0, 1, 2, 3]);
    expect(source.reads).toEqual([[0, 4], [4, 4]]);
    expect(await values(ahead, 4, 4)).toEqual([4, 5, 6, 7]);
    expect(await values(ahead, 8, 2)).toEqual([8, 9]);
    expect(source.reads).toEqual([[0, 4], [4, 4], [8, 2]]);
    // A range not foreseen is read as asked (and reads on from there).
    expect(await values(ahead, 1, 3)).toEqual([1, 2, 3]);
    expect(source.reads.slice(3)).toEqual([[1, 3], [4, 3]]);
  });

  it('with a plan of unequal ranges: the one after each, in the plan order', async () => {
    const source = counting(20);
    const plan = [{ start: 0, count: 7 }, { start: 7, count: 2 }, { start: 12, count: 8 }];
    const ahead = prefetchingChunks(source, plan);
    for (const r of plan) expect(await values(ahead, r.start, r.count)).toEqual(Array.from({ length: r.count }, (_, i) => r.start + i));
    expect(source.reads).toEqual(plan.map((r) => [r.start, r.count]));
  });
});
