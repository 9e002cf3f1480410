// The WGSL kernels of the forward pass (shaders/model/*.wgsl) on Dawn against their CPU twins
// (src/model/cpu/ops.ts), on seeded data of awkward sizes (not multiples of the tiles, odd element
// counts of 16-bit weights, more keys than one attention block, tensors cut into parts).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import { NO_FEATURES, type KernelFeatures, type WeightDtype } from '../../../src/model/gpu/modelShaders';
import { planWeightParts } from '../../../src/model/gpu/residentWeights';
import { addBias, causalAttention, embed, logSoftmax, matmul, rmsNorm, rope, ropeInvFreq, swiglu } from '../../../src/model/cpu/ops';
import { nodeGPU } from '../../../src/node/webgpu';
import { asDtype, KernelHarness, maxAbsDiff, randomValues } from './modelHarness';

// Compiling the tiled matmul for a weight dtype takes SwiftShader tens of seconds on a busy machine.
vi.setConfig({ testTimeout: 240_000 });

let ctx: SoupDevice;
let h: KernelHarness;

beforeAll(async () => {
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'model kernel tests');
  h = new KernelHarness(ctx);
});
afterAll(() => {
  h?.destroy();
  ctx?.destroy();
});

const DTYPES: WeightDtype[] = ['F32', 'F16', 'BF16'];

/** f32 sums of k products of O(1) values: a few ulps of the magnitude. */
const close = (got: Float32Array, want: Float32Array, tol: number, what: string): void => {
  const d = maxAbsDiff(got, want);
  expect(d.max, `${what}: worst at ${d.at}: got ${got[d.at]}, want ${want[d.at]}`).toBeLessThanOrEqual(tol);
};

describe('matmul.wgsl: Y = X·Wᵀ with weights decoded in the shader', () => {
  for (const dtype of DTYPES) {
    it(`${dtype} weights, 37×45 · (70×45)ᵀ, then accumulated into a wider Y at an offset`, async () => {
      const [n, k, m] = [37, 45, 70];
      const x = randomValues(n * k, 1);
      const wRaw = randomValues(m * k, 2, 0.2);
      const w = h.weight(wRaw, [m, k], dtype);
      const want = matmul(x, asDtype(wRaw, dtype), n, k, m);
      const y = h.buffer(n * m);
      await h.run((rec) => rec.matmul(h.bound(w), h.buffer(x), y, { n, m, k, yStride: m }));
      close(await h.read(y, n * m), want, 2e-5, dtype);

      // Rows 3… of X into rows 5… of a Y of 80 columns at column 7, added to what is there.
      const rows = n - 3;
      const base = randomValues((rows + 5) * 80, 3);
      const y2 = h.buffer(base);
      await h.run((rec) => rec.matmul(h.bound(w), h.buffer(x), y2, { n: rows, m, k, xRow0: 3, yRow0: 5, yStride: 80, col0: 7, accumulate: true }));
      const got = await h.read(y2, base.length);
      const expected = base.slice();
      for (let r = 0; r < rows; r++) for (let c = 0; c < m; c++) expected[(r + 5) * 80 + 7 + c] += want[(r + 3) * m + c];
      close(got, expected, 2e-5, `${dtype} accumulate`);
    });
  }

  for (const dtype of DTYPES) {
    it(`${dtype} weights, 1–4 rows (the barrier-free matvec path): from row offsets, accumulated at a column offset`, async () => {
      const [k, m] = [77, 131];
      const x = randomValues(6 * k, 70);
      const wRaw = randomValues(m * k, 71, 0.2);
      const w = h.weight(wRaw, [m, k], dtype);
      const wantAll = matmul(x, asDtype(wRaw, dtype), 6, k, m);
      for (const n of [1, 2, 4]) {
        const base = randomValues((n + 1) * 140, 72 + n);
        const y = h.buffer(base);
        await h.run((rec) => rec.matmul(h.bound(w), h.buffer(x), y, { n, m, k, xRow0: 2, yRow0: 1, yStride: 140, col0: 9, accumulate: true }));
        const expected = base.slice();
        for (let r = 0; r < n; r++) for (let c = 0; c < m; c++) expected[(r + 1) * 140 + 9 + c] += wantAll[(r + 2) * m + c];
        close(await h.read(y, base.length), expected, 2e-5, `${dtype} n=${n}`);
      }
    });
  }

  it('a weight cut into parts by rows (odd row length of a 16-bit dtype) gives the same product', async () => {
    const [n, k, m] = [5, 33, 41];
    const x = randomValues(n * k, 4);
    const wRaw = randomValues(m * k, 5, 0.2);
    const maxBytes = 10 * k * 2 + 8; // 10 rows of 66 bytes: parts of 10 rows, every part 4-byte aligned
    const plan = planWeightParts([m, k], 'BF16', maxBytes);
    expect(Array.isArray(plan) && plan.length).toBe(5);
    const w = h.weight(wRaw, [m, k], 'BF16', maxBytes);
    expect(w.parts.map((p) => p.rows)).toEqual([10, 10, 10, 10, 1]);
    const y = h.buffer(n * m);
    await h.run((rec) => w.parts.forEach((p, i) => rec.matmul(h.bound(w, i), h.buffer(x), y, { n, m: p.rows, k, yStride: m, col0: p.firstRow })));
    close(await h.read(y, n * m), matmul(x, asDtype(wRaw, 'BF16'), n, k, m), 2e-5, 'parts');
  });

  it('larger than several tiles in every direction (130×300 · 200×300ᵀ)', async () => {
    const [n, k, m] = [130, 300, 200];
    const x = randomValues(n * k, 6);
    const wRaw = randomValues(m * k, 7, 0.06);
    const w = h.weight(wRaw, [m, k], 'F16');
    const y = h.buffer(n * m);
    await h.run((rec) => rec.matmul(h.bound(w), h.buffer(x), y, { n, m, k, yStride: m }));
    close(await h.read(y, n * m), matmul(x, asDtype(wRaw, 'F16'), n, k, m), 2e-5, 'large');
  });
});

/** The row-reduction variants: reduce.wgsl (every adapter) and reduceSubgroups.wgsl (SwiftShader has subgroups). */
const REDUCTIONS: { name: string; features: KernelFeatures }[] = [
  { name: 'workgroup memory', features: NO_FEATURES },
  { name: 'subgroups', features: { f16: false, subgroups: true } },
];

describe('rmsnorm.wgsl', () => {
  it('the adapter offers subgroups, so both reduction variants run here', () => {
    expect(ctx.device.features.has('subgroups')).toBe(true);
  });
  for (const dtype of DTYPES) for (const { name, features } of REDUCTIONS)
    it(`${dtype} weight, ${name} reduction: rows from an offset, and in place (per-head q/k norm)`, async () => {
      const [rows, dim] = [9, 100];
      const x = randomValues((rows + 2) * dim, 10, 3);
      const wRaw = randomValues(dim, 11);
      const w = h.weight(wRaw, [dim], dtype);
      const y = h.buffer(x.length);
      await h.run((rec) => rec.rmsNorm(h.bound(w), h.buffer(x), y, { rows, dim, row0: 2, eps: 1e-5 }), features);
      const want = rmsNorm(x.subarray(2 * dim), asDtype(wRaw, dtype), rows, dim, 1e-5);
      close((await h.read(y, x.length)).subarray(2 * dim), want, 1e-5, dtype);

      const z = h.buffer(x);
      await h.run((rec) => rec.rmsNorm(h.bound(w), null, z, { rows: rows + 2, dim, eps: 1e-6 }), features);
      close(await h.read(z, x.length), rmsNorm(x, asDtype(wRaw, dtype), rows + 2, dim, 1e-6), 1e-5, `${dtype} in place`);
    });
});

describe('rope.wgsl (rotate_half, table of f32 angles)', () => {
  for (const scaling of [null, { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 }]) {
    it(`heads of 32 at positions 100…, ${scaling ? 'llama3 scaling' : 'plain θ'}`, async () => {
      const [rows, heads, d, start] = [7, 3, 32, 100];
      const inv = ropeInvFreq(d, 10000, scaling);
      const positions = start + rows;
      const table = new Float32Array(positions * (d / 2) * 2);
      for (let p = 0; p < positions; p++) {
        for (let i = 0; i < d / 2; i++) {
          const a = Math.fround(p * inv[i]);
          table[2 * (p * (d / 2) + i)] = Math.cos(a);
          table[2 * (p * (d / 2) + i) + 1] = Math.sin(a);
        }
      }
      // Rows of X from row 2; their positions from meta rows 4….
      const x = randomValues((rows + 2) * heads * d, 20);
      const meta = new Uint32Array(4 * (rows + 4));
      for (let r = 0; r < rows; r++) meta[4 * (r + 4)] = start + r;
      const xb = h.buffer(x);
      await h.run((rec) => rec.rope(h.buffer(table), h.buffer(meta), xb, { rows, heads, halfDim: d / 2, xRow0: 2, metaRow0: 4 }));
      const want = rope(x.slice(2 * heads * d), rows, heads, d, inv, start);
      close((await h.read(xb, x.length)).subarray(2 * heads * d), want, 2e-6, 'rope');
    });
  }
});

describe('attention.wgsl: causal GQA over packed sequences', () => {
  for (const [heads, kvHeads, d] of [[4, 2, 16], [6, 1, 128], [2, 2, 256]]) {
    it(`${heads} heads on ${kvHeads} kv heads of ${d}: sequences of 150 and 3 tokens packed, the second after a cache offset`, async () => {
      const lens = [150, 3];
      const N = lens[0] + lens[1];
      const q = randomValues(N * heads * d, 30 + d, 0.5);
      const k = randomValues(N * kvHeads * d, 31 + d, 0.5);
      const v = randomValues(N * kvHeads * d, 32 + d);
      const meta = new Uint32Array(4 * N);
      for (let g = 0; g < N; g++) meta[4 * g + 1] = g < lens[0] ? 0 : lens[0];
      const o = h.buffer(N * heads * d);
      await h.run((rec) => rec.attention(h.buffer(q), h.buffer(k), h.buffer(v), h.buffer(meta), o, { tokens: N, heads, kvHeads, headDim: d, row0: 0 }));
      const got = await h.read(o, N * heads * d);
      const [a, b] = [lens[0] * heads * d, lens[0] * kvHeads * d];
      const want0 = causalAttention(q.subarray(0, a), k.subarray(0, b), v.subarray(0, b), lens[0], 0, heads, kvHeads, d);
      const want1 = causalAttention(q.subarray(a), k.subarray(b), v.subarray(b), lens[1], 0, heads, kvHeads, d);
      close(got.subarray(0, a), want0, 1e-5, 'first sequence');
      close(got.subarray(a), want1, 1e-5, 'second sequence');

      // Generation: 2 new query rows at cache rows 150, 151 attending to all rows before them.
      const qNew = randomValues(2 * heads * d, 33);
      const o2 = h.buffer(2 * heads * d);
      const meta2 = new Uint32Array(4 * 152);
      await h.run((rec) => rec.attention(h.buffer(qNew), h.buffer(k), h.buffer(v), h.buffer(meta2), o2, { tokens: 2, heads, kvHeads, headDim: d, row0: 150 }));
      const want2 = causalAttention(qNew, k.subarray(0, 152 * kvHeads * d), v.subarray(0, 152 * kvHeads * d), 2, 150, heads, kvHeads, d);
      close(await h.read(o2, 2 * heads * d), want2, 1e-5, 'cached');
    });
  }
});

describe('attention.wgsl: a context shared between sequences of a batch', () => {
  it('two continuations of a 70-token context stored once attend as if each had its own copy', async () => {
    const [heads, kvHeads, d] = [4, 2, 32];
    const [context, tailA, tailB] = [70, 5, 3];
    // The cache: the context and A's tail (rows 0 … 74), then B's tail (rows 75 … 77), which reuses rows 0 … 69.
    const N = context + tailA + tailB;
    const k = randomValues(N * kvHeads * d, 70, 0.5);
    const v = randomValues(N * kvHeads * d, 71);
    const q = randomValues(N * heads * d, 72, 0.5);
    const meta = new Uint32Array(4 * N);
    for (let g = 0; g < context + tailA; g++) meta.set([g, 0, 0, 0], 4 * g);
    for (let g = context + tailA; g < N; g++) meta.set([context + g - (context + tailA), context + tailA, 0, context], 4 * g);
    const o = h.buffer(N * heads * d);
    await h.run((rec) => rec.attention(h.buffer(q), h.buffer(k), h.buffer(v), h.buffer(meta), o, { tokens: N, heads, kvHeads, headDim: d, row0: 0 }));
    const got = await h.read(o, N * heads * d);
    // The oracle: B as a sequence of its own (the context's keys and values copied before its tail), on the CPU twin.
    const kv = (x: Float32Array) => {
      const out = new Float32Array((context + tailB) * kvHeads * d);
      out.set(x.subarray(0, context * kvHeads * d));
      out.set(x.subarray((context + tailA) * kvHeads * d), context * kvHeads * d);
      return out;
    };
    const qB = q.subarray((context + tailA) * heads * d);
    const wantB = causalAttention(qB, kv(k), kv(v), tailB, context, heads, kvHeads, d);
    close(got.subarray((context + tailA) * heads * d), wantB, 1e-5, 'the second continuation');
    const a = (context + tailA) * heads * d;
    const wantA = causalAttention(q.subarray(0, a), k.subarray(0, (context + tailA) * kvHeads * d), v.subarray(0, (context + tailA) * kvHeads * d), context + tailA, 0, heads, kvHeads, d);
    close(got.subarray(0, a), wantA, 1e-5, 'the first sequence');
  });
});

describe('embed.wgsl, elementwise.wgsl, logits.wgsl', () => {
  for (const dtype of DTYPES) {
    it(`${dtype} embedding cut into parts; ids read from a cache-row offset`, async () => {
      const [V, dim] = [50, 19];
      const table = randomValues(V * dim, 40);
      const w = h.weight(table, [V, dim], dtype, 12 * dim * 2 + 4);
      expect(w.parts.length).toBeGreaterThan(2);
      const ids = Uint32Array.of(0, 0, 49, 3, 12, 13, 24, 25, 36, 0);
      const y = h.buffer((ids.length - 2) * dim);
      await h.run((rec) => w.parts.forEach((p, i) => rec.embed(h.bound(w, i), h.buffer(ids), y, { tokens: ids.length - 2, dim, firstRow: p.firstRow, partRows: p.rows, row0: 2 })));
      expect(Array.from(await h.read(y, (ids.length - 2) * dim))).toEqual(Array.from(embed(asDtype(table, dtype), ids.subarray(2), dim)));
    });
  }

  it('addBias at a row offset and SwiGLU', async () => {
    const [rows, cols] = [6, 35];
    const y0 = randomValues((rows + 1) * cols, 50);
    const bias = randomValues(cols, 51);
    const w = h.weight(bias, [cols], 'BF16');
    const yb = h.buffer(y0);
    await h.run((rec) => rec.addBias(h.bound(w), yb, { rows, cols, row0: 1 }));
    const want = y0.slice();
    addBias(want.subarray(cols), asDtype(bias, 'BF16'), rows);
    close(await h.read(yb, y0.length), want, 0, 'bias');

    const gate = randomValues(1001, 52, 6);
    const up = randomValues(1001, 53);
    const g = h.buffer(gate);
    await h.run((rec) => rec.swiglu(g, h.buffer(up), gate.length));
    close(await h.read(g, gate.length), swiglu(gate, up), 1e-5, 'swiglu');
  });

  for (const { name, features } of REDUCTIONS)
  it(`log-softmax gathered at the targets, argmax (first of ties), rows from an offset (${name} reduction)`, async () => {
    const [rows, V] = [5, 1000];
    const logits = randomValues(rows * V, 60, 4);
    logits[2 * V + 17] = 40;
    logits[2 * V + 900] = 40; // a tie: the first index wins
    const targets = Uint32Array.of(0xffffffff, 0xffffffff, 999, 0, 17, 500, 0xffffffff);
    const results = h.buffer(2 * targets.length);
    await h.run((rec) => rec.logSoftmaxGather(h.buffer(logits), h.buffer(targets), results, { rows, vocab: V, row0: 2 }), features);
    const got = await h.read(results, 2 * targets.length);
    const bits = new Uint32Array(got.buffer);
    const ls = logSoftmax(logits, rows, V);
    for (let r = 0; r < rows; r++) {
      const t = targets[r + 2];
      if (t !== 0xffffffff) expect(Math.abs(got[2 * (r + 2)] - ls[r * V + t]), `row ${r}`).toBeLessThan(2e-5);
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[r * V + j] > logits[r * V + best]) best = j;
      expect(bits[2 * (r + 2) + 1], `argmax of row ${r}`).toBe(best);
    }
    expect(bits[2 * 4 + 1]).toBe(17);
  });
});
