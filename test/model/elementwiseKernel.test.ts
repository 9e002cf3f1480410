/**
 * The fast CPU model's elementwise kernels (src/model/cpu/elementwiseKernel.ts, WebAssembly SIMD) split
 * over real worker threads: the same bits on any number of threads and any split, within 2 ulp of ops.ts's
 * SwiGLU (Math.exp in double), a log-sum-exp within 1e-6 of one computed another way, and attention's causal
 * softmax within 1e-6 (relative) of the softmax in double.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { KernelThreads } from '../../src/model/cpu/kernelThreads';
import { swiglu } from '../../src/model/cpu/ops';
import { nodeKernelThreads } from '../../src/node/kernelThreads';

/** A seeded generator of floats in [-scale, scale). */
function floats(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

const PAGES = 64; // 4 MiB

/** The spacing of f32 values at x. */
function ulp(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}
const pools: KernelThreads[] = [];
afterAll(() => pools.forEach((p) => p.dispose()));

/** A shared memory of PAGES pages with `threads` kernel threads on it. */
function pool(threads: number): { memory: WebAssembly.Memory; kernels: KernelThreads } {
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true } as WebAssembly.MemoryDescriptor);
  const kernels = new KernelThreads(memory, PAGES, true, threads > 1 ? nodeKernelThreads(threads) : undefined);
  pools.push(kernels);
  return { memory, kernels };
}

describe.each([1, 2, 3])('on %i thread(s)', (threads) => {
  test('SwiGLU over an odd count: within 2 ulp of ops.swiglu, the same bits as on one thread, every element written once', () => {
    const { memory, kernels } = pool(threads);
    const n = 100_003;
    const [gate, up, out] = [256, 256 + 4 * n, 256 + 8 * n];
    const g = floats(n, 1, 12);
    const u = floats(n, 2, 3);
    new Float32Array(memory.buffer, gate, n).set(g);
    new Float32Array(memory.buffer, up, n).set(u);
    new Float32Array(memory.buffer, out, n + 1).fill(NaN);
    // minPerThread 1: every thread takes a part.
    kernels.elementwise('swiglu', [gate, up, out], n, 1);
    const got = new Float32Array(memory.buffer, out, n).slice();
    const want = swiglu(g, u);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i]), `element ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(2 * ulp(want[i]));
    expect(new Float32Array(memory.buffer, out + 4 * n, 1)[0]).toBeNaN(); // nothing past the end
    const one = pool(1);
    new Float32Array(one.memory.buffer, gate, n).set(g);
    new Float32Array(one.memory.buffer, up, n).set(u);
    one.kernels.elementwise('swiglu', [gate, up, out], n, n);
    expect(Array.from(got)).toEqual(Array.from(new Float32Array(one.memory.buffer, out, n)));
  });

  test('log-sum-exp of each row: within 1e-6 of the sum of exps taken directly in double', () => {
    const { memory, kernels } = pool(threads);
    const rows = 7;
    const cols = 5_003;
    const logits = 512;
    const out = logits + alignUp(4 * rows * cols, 16);
    const values = floats(rows * cols, 3, 20);
    new Float32Array(memory.buffer, logits, rows * cols).set(values);
    kernels.elementwise('lse_rows', [logits, cols, out], rows, 1);
    const got = new Float64Array(memory.buffer, out, 2 * rows);
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * cols, (r + 1) * cols);
      expect(got[2 * r]).toBe(Math.max(...row));
      // Without the max subtracted (the values are at most 20: no overflow), summed smallest first.
      const exps = Array.from(row, (x) => Math.exp(x)).sort((a, b) => a - b);
      expect(Math.abs(got[2 * r] + Math.log(got[2 * r + 1]) - Math.log(exps.reduce((sum, x) => sum + x, 0)))).toBeLessThan(1e-6);
    }
  });

  test('causal softmax of attention scores: within 1e-6 (relative) of the softmax in double, zeros past each row\'s last visible position, the same bits as on one thread', () => {
    const { memory, kernels } = pool(threads);
    // 13 query rows after 37 cached positions: row r sees 38 + r scores (odd counts, vector and scalar tails).
    const [n, past, d] = [13, 37, 128];
    const T = past + n;
    const T8 = alignUp(T, 8);
    const [scores, probs, geometry] = [1024, 1024 + alignUp(4 * n * T, 64), 1024 + alignUp(4 * n * T, 64) + alignUp(4 * (n + 1) * T8, 64)];
    const s = floats(n * T, 6, 40);
    new Float32Array(memory.buffer, scores, n * T).set(s);
    new Float32Array(memory.buffer, probs, (n + 1) * T8).fill(NaN);
    const g = new DataView(memory.buffer, geometry, 16);
    g.setInt32(0, T, true);
    g.setInt32(4, T8, true);
    g.setInt32(8, past, true);
    g.setFloat32(12, 1 / Math.sqrt(d), true);
    kernels.elementwise('softmax_rows', [scores, probs, geometry], n, 1);
    const got = new Float32Array(memory.buffer, probs, (n + 1) * T8).slice();
    for (let r = 0; r < n; r++) {
      const visible = past + r + 1;
      const x = Array.from(s.subarray(r * T, r * T + visible), (v) => v / Math.sqrt(d));
      const max = Math.max(...x);
      const e = x.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let t = 0; t < visible; t++) expect(Math.abs(got[r * T8 + t] - e[t] / sum), `row ${r}, position ${t}`).toBeLessThanOrEqual(1e-6 * (e[t] / sum) + 1e-37);
      for (let t = visible; t < T8; t++) expect(got[r * T8 + t], `row ${r}, masked position ${t}`).toBe(0);
    }
    expect(got.subarray(n * T8).every(Number.isNaN)).toBe(true); // the row after the last is not touched
    const one = pool(1);
    new Float32Array(one.memory.buffer, scores, n * T).set(s);
    new Uint8Array(one.memory.buffer, geometry, 16).set(new Uint8Array(memory.buffer, geometry, 16));
    one.kernels.elementwise('softmax_rows', [scores, probs, geometry], n, n);
    expect(Array.from(got.subarray(0, n * T8))).toEqual(Array.from(new Float32Array(one.memory.buffer, probs, n * T8)));
  });
});

test('addresses past 2 GiB reach the loops on the helper threads intact (the control block holds them as Int32)', () => {
  const big = 2 ** 31 + 65536 * 4;
  const pages = big / 65536 + 4;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true } as WebAssembly.MemoryDescriptor);
  const kernels = new KernelThreads(memory, pages, true, nodeKernelThreads(2));
  pools.push(kernels);
  const n = 4096;
  const [gate, up, out] = [big, big + 4 * n, big + 8 * n];
  const g = floats(n, 4, 8);
  const u = floats(n, 5, 2);
  new Float32Array(memory.buffer, gate, n).set(g);
  new Float32Array(memory.buffer, up, n).set(u);
  kernels.elementwise('swiglu', [gate, up, out], n, 1);
  const one = pool(1);
  new Float32Array(one.memory.buffer, 256, n).set(g);
  new Float32Array(one.memory.buffer, 256 + 4 * n, n).set(u);
  one.kernels.elementwise('swiglu', [256, 256 + 4 * n, 256 + 8 * n], n, 1);
  expect(Array.from(new Float32Array(memory.buffer, out, n))).toEqual(Array.from(new Float32Array(one.memory.buffer, 256 + 8 * n, n)));
});

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
