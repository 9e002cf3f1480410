// The soup's tensors computed ahead of the model (soupLoader's readAhead): every value as the source
// gives it, and never more than the window of f32 tensors waiting beside the one being read — the
// bound that keeps a search's host memory at (n + 1) × a model (test/search/searchRss.test.ts).
import { describe, expect, it } from 'vitest';
import type { WeightSource } from '../../src/model/types';
import { readAhead } from '../../src/search/soupLoader';

/** A source of `sizes[i]` values per tensor t<i>, counting what it has computed and not yet had read. */
function countingSource(sizes: number[]) {
  const names = sizes.map((_, i) => `t${i}`);
  const live = new Set<string>();
  const started: string[] = [];
  let peakLiveBytes = 0;
  const source: WeightSource = {
    names: () => names,
    shape: (n) => [sizes[names.indexOf(n)]],
    dtype: () => 'BF16',
    readF32: async (n) => {
      started.push(n);
      await Promise.resolve();
      live.add(n);
      peakLiveBytes = Math.max(peakLiveBytes, [...live].reduce((a, x) => a + 4 * sizes[names.indexOf(x)], 0));
      const i = names.indexOf(n);
      return Float32Array.from({ length: sizes[i] }, (_, k) => i * 1000 + k);
    },
  };
  return { source, names, live, started, peak: () => peakLiveBytes };
}

describe('readAhead', () => {
  it('hands out every tensor as the source computes it, within the window of waiting bytes', async () => {
    const sizes = [50, 10, 10, 10, 200, 10, 10, 10, 10, 30];
    const c = countingSource(sizes);
    const ahead = readAhead(c.source, undefined, undefined, { tensors: 3, bytes: 4 * 40 });
    for (const [i, n] of c.names.entries()) {
      const v = await ahead.readF32(n);
      c.live.delete(n); // the reader is done with it
      expect(Array.from(v)).toEqual(Array.from({ length: sizes[i] }, (_, k) => i * 1000 + k));
    }
    // Each tensor computed once; at most the window (160 bytes) beside the largest (800 bytes) at any time.
    expect([...c.started].sort()).toEqual([...c.names].sort());
    expect(c.peak()).toBeLessThanOrEqual(4 * 200 + 4 * 40);
    expect(ahead.read).toEqual(c.names);
  });

  it('computes ahead in the order the reader asked in last time, and anything else when asked', async () => {
    const c = countingSource([10, 10, 10, 10, 10, 10]);
    const expected = ['t5', 't4', 't3', 't2', 't1', 't0'];
    const ahead = readAhead(c.source, undefined, expected, { tensors: 3, bytes: 1 << 20 });
    await ahead.readF32('t5');
    // t5 asked for, then t4, t3 and (once t5 was handed out) t2 computed ahead of the reader.
    expect(c.started).toEqual(['t5', 't4', 't3', 't2']);
    await ahead.readF32('t0');
    expect(c.started.slice(0, 5)).toEqual(['t5', 't4', 't3', 't2', 't0']);
    for (const n of ['t4', 't3', 't2', 't1']) await ahead.readF32(n);
    expect(c.started.filter((n) => n === 't0')).toHaveLength(1); // read out of order: not computed twice
    expect(new Set(c.started).size).toBe(6);
    await expect(ahead.readF32('nope')).rejects.toThrow('the soup has no tensor nope');
  });

  it('streams a tensor larger than the window in the pieces of the source, never whole', async () => {
    const c = countingSource([10, 1000, 10]);
    const pieces: number[] = [];
    const source: WeightSource = {
      ...c.source,
      async *streamF32(name) {
        const whole = await c.source.readF32(name);
        for (let at = 0; at < whole.length; at += 100) yield whole.subarray(at, at + 100);
      },
    };
    const ahead = readAhead(source, undefined, undefined, { tensors: 4, bytes: 4 * 100 });
    const values: number[] = [];
    for await (const p of ahead.streamF32!('t1')) {
      pieces.push(p.length);
      values.push(...p);
    }
    expect(pieces).toEqual(Array(10).fill(100));
    expect(values).toEqual(Array.from({ length: 1000 }, (_, k) => 1000 + k));
    // The small ones around it were computed ahead, whole.
    expect(c.started).toContain('t0');
    expect(c.started).toContain('t2');
  });
});
