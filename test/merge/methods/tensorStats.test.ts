import { describe, expect, it } from 'vitest';
import type { KernelDtype } from '../../../src/merge/kernel';
import { BlockedSum, chunkKeys, chunkSelectionKeys, chunkVectors, isSelected, selectByKey, selectByMagnitude, tensorSums } from '../../../src/merge/program/tensorStats';
import { forEachInLines, lineOf, LineSums, linesOf } from '../../../src/merge/program/lineSums';
import { seededUniform } from '../../../src/util/random';
import { uniform24 } from '../../../src/merge/program/counterRandom';
import { lineInputs, memorySource, oracleSelection, oracleVectors, quantizedInputs, randomInputs } from './statsTestData';

function selectedSet(sel: Parameters<typeof isSelected>[0], keys: Uint32Array): Set<number> {
  const s = new Set<number>();
  keys.forEach((k, i) => {
    if (isSelected(sel, k, i)) s.add(i);
  });
  return s;
}

describe('magnitude selection (CPU) against a stable argsort of |d|', () => {
  const cases: { what: string; dtypes: KernelDtype[]; inputs: (n: number) => Uint8Array[]; base?: number }[] = [
    { what: 'BF16 deltas with NaN, ±Inf, ±0, subnormals', dtypes: ['BF16', 'BF16'], inputs: (n) => randomInputs(['BF16', 'BF16'], n, 1, { specials: 0.05 }), base: 0 },
    { what: 'F16 minus F32 base', dtypes: ['F32', 'F16'], inputs: (n) => randomInputs(['F32', 'F16'], n, 2, { specials: 0.02 }), base: 0 },
    { what: 'long runs of equal magnitudes (ties at the threshold)', dtypes: ['BF16', 'F32'], inputs: (n) => quantizedInputs(['BF16', 'F32'], n, 3), base: 0 },
    { what: 'no base, F32 with specials', dtypes: ['F32'], inputs: (n) => randomInputs(['F32'], n, 4, { specials: 0.1 }) },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const n = 5003;
      const inputs = c.inputs(n);
      const source = memorySource(c.dtypes, inputs);
      const which = c.base === undefined ? 0 : 1;
      const d = oracleVectors(c.dtypes, inputs, c.base)[0];
      const keys = chunkKeys(source, inputs, n, which, c.base);
      for (const order of ['largest', 'smallest'] as const) {
        for (const count of [0, 1, 7, Math.floor(0.2 * n), Math.floor(0.5 * n), n - 1, n]) {
          // Chunks of 1024 elements: the selection streams.
          const sel = await selectByMagnitude(source, which, c.base, order, count, 1024);
          expect(selectedSet(sel, keys), `${order} ${count}`).toEqual(oracleSelection(d, order, count));
        }
      }
    });
  }

  it('refuses a count outside 0…n', async () => {
    const source = memorySource(['F32'], randomInputs(['F32'], 10, 5));
    await expect(selectByMagnitude(source, 0, undefined, 'largest', 11)).rejects.toThrow(/cannot select 11 of 10/);
  });
});

describe('variance selection (sce, CPU) against a stable sort of variances computed here', () => {
  it('three deltas with specials, and quantized ones (ties), both orders, streamed', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F32', 'BF16'];
    const n = 5003;
    for (const inputs of [randomInputs(dtypes, n, 14, { specials: 0.02 }), quantizedInputs(dtypes, n, 15, 3)]) {
      const source = memorySource(dtypes, inputs);
      const d = oracleVectors(dtypes, inputs, 0);
      // torch.var(unbiased=False) in f32, one operation at a time.
      const variances = d[0].map((_, e) => {
        const f = Math.fround;
        const mean = f(f(f(d[0][e] + d[1][e]) + d[2][e]) / 3);
        const sq = (x: number) => f(f(x - mean) * f(x - mean));
        return f(f(f(sq(d[0][e]) + sq(d[1][e])) + sq(d[2][e])) / 3);
      });
      const keys = chunkSelectionKeys(source, inputs, n, { kind: 'variance', base: 0 });
      for (const order of ['largest', 'smallest'] as const) {
        for (const count of [1, Math.floor(0.3 * n), n]) {
          const sel = await selectByKey(source, { kind: 'variance', base: 0 }, order, count, 1024);
          expect(selectedSet(sel, keys), `${order} ${count}`).toEqual(oracleSelection(variances, order, count));
        }
      }
    }
  });
});

describe('blocked sums (CPU) against f64 sums', () => {
  it('dot products, norms and l1 of deltas over several chunks', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F16', 'F32'];
    const n = 70_001;
    const inputs = randomInputs(dtypes, n, 9);
    const sums = await tensorSums(memorySource(dtypes, inputs), { base: 0 }, 8192);
    const d = oracleVectors(dtypes, inputs, 0);
    expect(sums.vectors).toEqual([1, 2, 3]);
    for (let i = 0; i < 3; i++) {
      let l1 = 0;
      for (const v of d[i]) l1 += Math.abs(v);
      expect(Math.abs(sums.l1[i] - l1) / l1).toBeLessThan(1e-6);
      for (let j = 0; j < 3; j++) {
        let dot = 0;
        for (let e = 0; e < n; e++) dot += d[i][e] * d[j][e];
        expect(Math.abs(sums.dots[i * 3 + j] - dot), `dot ${i},${j}`).toBeLessThan(1e-6 * Math.sqrt(sums.dots[i * 4] * sums.dots[j * 4]));
      }
    }
  });

  it('does not depend on the chunk size (chunks are whole groups)', async () => {
    const dtypes: KernelDtype[] = ['F32', 'BF16'];
    const inputs = randomInputs(dtypes, 20_000, 10);
    const a = await tensorSums(memorySource(dtypes, inputs), {}, 512);
    const b = await tensorSums(memorySource(dtypes, inputs), {}, 1 << 20);
    expect(Array.from(a.dots)).toEqual(Array.from(b.dots));
    expect(Array.from(a.l1)).toEqual(Array.from(b.l1));
  });

  it('divided vectors: dot products of f32(dᵢ / divisorᵢ), each quotient rounded once (the SLERP family)', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'F32', 'F16'];
    const n = 30_011;
    const inputs = randomInputs(dtypes, n, 12);
    const divisors = [3.7, 1];
    const sums = await tensorSums(memorySource(dtypes, inputs), { base: 0, divisors }, 4096);
    const d = oracleVectors(dtypes, inputs, 0).map((v, k) => v.map((x) => Math.fround(x / Math.fround(divisors[k]))));
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        let dot = 0;
        for (let e = 0; e < n; e++) dot += Math.fround(d[i][e] * d[j][e]);
        expect(Math.abs(sums.dots[i * 2 + j] - dot), `dot ${i},${j}`).toBeLessThan(1e-6 * Math.sqrt(sums.dots[0] * sums.dots[3]));
      }
    }
    // Divisor 1 is the vector itself, exactly.
    const plain = await tensorSums(memorySource(dtypes, inputs), { base: 0 }, 4096);
    expect(sums.dots[3]).toBe(plain.dots[3]);
  });

  it("multislerp's chain: Σ f32(uᵢ·c) and Σ c² for c = m, m̂ and the tangent r (an oracle written from multislerp.py's steps)", async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F32', 'F16'];
    const n = 20_011;
    const inputs = randomInputs(dtypes, n, 14);
    const fr = Math.fround;
    const d = oracleVectors(dtypes, inputs, 0);
    const den = d.map((v) => fr(fr(Math.sqrt(v.reduce((s, x) => s + x * x, 0))) + 1e-8));
    const u = d.map((v, k) => v.map((x) => fr(x / den[k])));
    const w = [0.5, 0.3, 0.2].map(fr);
    const mean = (e: number): number => u.reduce((m, uk, k) => (k === 0 ? fr(uk[e] * w[k]) : fr(m + fr(uk[e] * w[k]))), 0);
    const within = (got: number, want: number, scale: number, what: string) => expect(Math.abs(got - want), what).toBeLessThan(1e-6 * scale);
    // m: Σ m² only matters.
    const m = Array.from({ length: n }, (_, e) => mean(e));
    const sq = m.reduce((s, x) => s + x * x, 0);
    const meanSums = await tensorSums(memorySource(dtypes, inputs), { base: 0, divisors: den, chain: { weights: w } }, 4096);
    expect(meanSums.vectors).toEqual([1, 2, 3, -1]);
    within(meanSums.dots[15], sq, sq, '‖m‖²');
    // m̂: the projections Σ f32(uᵢ·m̂).
    const norm = fr(Math.sqrt(sq));
    const mhat = m.map((x) => fr(x / norm));
    const dirSums = await tensorSums(memorySource(dtypes, inputs), { base: 0, divisors: den, chain: { weights: w, meanNorm: norm } }, 4096);
    const p = u.map((uk) => fr(uk.reduce((s, x, e) => s + fr(x * mhat[e]), 0)));
    p.forEach((pk, k) => {
      within(dirSums.dots[k * 4 + 3], pk, 1, `u${k}·m̂`);
      expect(dirSums.dots[3 * 4 + k]).toBe(dirSums.dots[k * 4 + 3]);
    });
    // r: Σ r².
    const r = mhat.map((h, e) => u.reduce((acc, uk, k) => {
      const term = fr(fr(uk[e] - fr(p[k] * h)) * w[k]);
      return k === 0 ? term : fr(acc + term);
    }, 0));
    const r2 = r.reduce((s, x) => s + x * x, 0);
    const tangent = await tensorSums(memorySource(dtypes, inputs), { base: 0, divisors: den, chain: { weights: w, meanNorm: norm, projections: Array.from(dirSums.dots.filter((_, i) => i % 4 === 3).slice(0, 3), fr) } }, 4096);
    within(tangent.dots[15], r2, r2, '‖r‖²');
  });

  it('the rescale: Σ|dᵢ| and Σ|dᵢ| over the elements a keep mask keeps (a stable sort, the DARE hash), nothing else', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16', 'F32'];
    const n = 30_007;
    const inputs = randomInputs(dtypes, n, 15, { specials: 0 });
    const d = oracleVectors(dtypes, inputs, 0);
    // Model 1: the 40 % largest |d| (TIES); model 2: DARE, p = 0.3; model 3: all.
    const k = Math.floor(0.4 * n);
    const smallest = oracleSelection(d[0], 'smallest', n - k);
    const below = await selectByMagnitude(memorySource(dtypes, inputs), 1, 0, 'smallest', n - k);
    const keeps = [
      { kind: 'largest' as const, below: { valueBits: below.threshold, cutIndex: below.cut, below: below.before } },
      { kind: 'random' as const, stream: 0x1234567, p: Math.fround(0.3) },
      { kind: 'all' as const },
    ];
    const sums = await tensorSums(memorySource(dtypes, inputs), { base: 0, keeps }, 4096);
    const kept = [(e: number) => !smallest.has(e), (e: number) => uniform24(0x1234567, e) < Math.fround(0.3), () => true];
    d.forEach((v, i) => {
      const l1 = v.reduce((s, x) => s + Math.abs(x), 0);
      const keptL1 = v.reduce((s, x, e) => s + (kept[i](e) ? Math.abs(x) : 0), 0);
      expect(Math.abs(sums.l1[i] - l1) / l1, `l1 ${i}`).toBeLessThan(1e-6);
      expect(Math.abs(sums.keptL1[i] - keptL1) / keptL1, `kept l1 ${i}`).toBeLessThan(1e-6);
    });
    expect(sums.keptL1[2]).toBe(sums.l1[2]);
    expect(sums.keptL1[0]).toBeLessThan(sums.l1[0]);
    expect(Array.from(sums.dots).every((x) => x === 0), 'no dot products asked for').toBe(true);
  });

  it("sce's masked mean squares: Σ f32(dᵢ²) over the elements outside the smallest variances (a stable sort of variances computed here)", async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F32', 'BF16'];
    const n = 20_011;
    const f = Math.fround;
    for (const inputs of [randomInputs(dtypes, n, 16, { specials: 0 }), quantizedInputs(dtypes, n, 17, 3)]) {
      const d = oracleVectors(dtypes, inputs, 0);
      const variances = d[0].map((_, e) => {
        const mean = f(f(f(d[0][e] + d[1][e]) + d[2][e]) / 3);
        const sq = (x: number) => f(f(x - mean) * f(x - mean));
        return f(f(f(sq(d[0][e]) + sq(d[1][e])) + sq(d[2][e])) / 3);
      });
      const dropped = Math.floor(0.6 * n);
      const smallest = oracleSelection(variances, 'smallest', dropped);
      const s = await selectByKey(memorySource(dtypes, inputs), { kind: 'variance', base: 0 }, 'smallest', dropped, 4096);
      const varianceKeep = { valueBits: s.threshold, cutIndex: s.cut, below: s.before };
      const sums = await tensorSums(memorySource(dtypes, inputs), { base: 0, roundedSquares: true, varianceKeep }, 4096);
      d.forEach((v, i) => {
        const want = v.reduce((acc, x, e) => acc + (smallest.has(e) ? 0 : f(x * x)), 0);
        expect(Math.abs(sums.dots[i * 3 + i] - want) / want, `model ${i}`).toBeLessThan(1e-9);
        const cross = v.reduce((acc, x, e) => acc + (smallest.has(e) ? 0 : f(x * d[(i + 1) % 3][e])), 0);
        expect(Math.abs(sums.dots[i * 3 + ((i + 1) % 3)] - cross), `model ${i} · ${(i + 1) % 3}`).toBeLessThan(1e-9 * want);
      });
    }
  });

  it('refuses a variance selection without a base', async () => {
    const source = memorySource(['F32', 'F32'], randomInputs(['F32', 'F32'], 10, 5));
    await expect(tensorSums(source, { varianceKeep: { valueBits: 0, cutIndex: 0, below: 0 } })).rejects.toThrow(/needs a base/);
  });

  it('BlockedSum: pieces of any length give the bits of whole groups; terms that cancel keep their sum', () => {
    const r = seededUniform(13);
    const terms = Float32Array.from({ length: 5000 }, () => (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20));
    const whole = new BlockedSum();
    whole.add(terms);
    const pieces = new BlockedSum();
    for (let at = 0; at < terms.length; ) {
      const len = Math.min(terms.length - at, 1 + Math.floor(r() * 700));
      pieces.add(terms.subarray(at, at + len));
      at += len;
    }
    expect(pieces.sum()).toBe(whole.sum());
    let f64 = 0;
    for (const t of terms) f64 += t;
    // Compensated: the error is about one f64 rounding per group, not f32 roundings of the running sums.
    expect(Math.abs(whole.sum() - f64)).toBeLessThan(1e-12 * terms.reduce((s, t) => s + Math.abs(t), 0));
  });

  it('propagates NaN and Inf', async () => {
    const dtypes: KernelDtype[] = ['F32', 'F32'];
    const inputs = randomInputs(dtypes, 1000, 11);
    new DataView(inputs[1].buffer).setFloat32(4 * 17, Infinity, true);
    const s = await tensorSums(memorySource(dtypes, inputs), {});
    expect(s.dots[3]).toBe(Infinity);
    expect(s.dots[1]).not.toBeNaN();
    new DataView(inputs[0].buffer).setFloat32(4 * 3, NaN, true);
    const t = await tensorSums(memorySource(dtypes, inputs), {});
    expect(t.dots[0]).toBeNaN();
    expect(t.l1[0]).toBeNaN();
  });
});

describe('per-line blocked sums (CPU, lineSums.ts): each row or column summed as a tensor of its own', () => {
  it('rows and columns of lengths around the lane and group sizes, fed one element at a time, equal tensorSums of each line alone', async () => {
    for (const [shape, grouping] of [
      [[37, 13], 'row'],
      [[5, 1100], 'row'],
      [[3, 4, 9], 'row'],
      [[1030, 7], 'column'],
      [[600, 3, 2], 'column'],
    ] as const) {
      const lines = linesOf(grouping, shape);
      const numel = shape.reduce((a, b) => a * b, 1);
      const dtypes: KernelDtype[] = ['BF16', 'F32', 'F16'];
      const inputs = randomInputs(dtypes, numel, 7 + numel, { specials: 0.01 });
      const { values } = chunkVectors(dtypes, inputs, numel, { base: 0 });
      const sums = new LineSums(lines, 3);
      for (let e = 0; e < numel; e++) {
        const { line, at } = lineOf(lines, e);
        sums.addSquare(line, 0, at, values[0][e]);
        sums.add(line, 1, at, Math.fround(values[0][e] * values[1][e]));
        sums.addSquare(line, 2, at, values[1][e]);
      }
      // The runners' chunks: forEachInLines from any offset gives lineOf's lines and positions.
      for (const [offset, count] of [[0, numel], [5, 37], [numel - 9, 9]]) {
        const seen: [number, number][] = [];
        forEachInLines(lines, offset, count, (i, line, at) => seen.push([line, at]));
        expect(seen).toEqual(Array.from({ length: count }, (_, i) => Object.values(lineOf(lines, offset + i))));
      }
      for (let l = 0; l < lines.count; l++) {
        const alone = await tensorSums(memorySource(dtypes, lineInputs(dtypes, inputs, lines, l)), { base: 0 }, 512);
        expect([sums.value(l, 0), sums.value(l, 1), sums.value(l, 2)], `${grouping} ${l} of ${shape}`).toEqual([alone.dots[0], alone.dots[1], alone.dots[3]]);
      }
    }
  });
});
