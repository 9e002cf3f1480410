/**
 * The WebAssembly SIMD matmul (matmulKernel.ts) against a plain double-precision sum over the same
 * weights decoded by the codec module, for each weight dtype, on a shared and an unshared memory.
 */
import { describe, expect, test } from 'vitest';
import { decodeToF32, encodeFromF32 } from '../../src/formats/floatArrays';
import { DTYPE_BYTES, matmulModuleBytes, MATMUL_EXPORTS, splitColumns, type MatmulExports, type WeightDtype } from '../../src/model/cpu/matmulKernel';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

describe.each(['F32', 'BF16', 'F16'] as WeightDtype[])('mm %s', (dtype) => {
  test.each([false, true])('shared memory %s: equals the decoded weights summed in double, within f32 rounding; widened into a panel or in the inner loop, the same bits', (shared) => {
    const pages = 16;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    const mm = (new WebAssembly.Instance(new WebAssembly.Module(matmulModuleBytes({ initial: pages, maximum: pages, shared })), { env: { memory } }).exports as unknown as MatmulExports)[MATMUL_EXPORTS[dtype] as keyof MatmulExports];
    const rnd = seeded(7);
    const rows = 8;
    const k = 96;
    const m = 10;
    const x = Float32Array.from({ length: rows * k }, () => rnd() * 4);
    // A few subnormal and large F16-range weights, so the F16 decoding is checked over its range.
    const wf = Float32Array.from({ length: m * k }, (_, i) => (i % 37 === 0 ? 3e-6 : i % 53 === 0 ? 3000 : rnd()));
    const wBytes = encodeFromF32(dtype, wf);
    const wDecoded = decodeToF32(dtype, wBytes);
    const X = 0;
    const W = 64 * 1024;
    const Y = 128 * 1024;
    const PANEL = 192 * 1024;
    new Float32Array(memory.buffer, X, x.length).set(x);
    new Uint8Array(memory.buffer, W, wBytes.length).set(wBytes);
    expect(wBytes.length).toBe(m * k * DTYPE_BYTES[dtype]);
    // Two column ranges, as two threads would split them; blocks of 4 weight rows (several per range).
    const run = (panel: number) => {
      new Float32Array(memory.buffer, Y, rows * m).fill(NaN);
      for (const part of [0, 1]) {
        const [a, b] = splitColumns(m, 2, part);
        mm(X, W, Y, rows, k, m, a, b, 4, panel);
      }
      return new Float32Array(memory.buffer, Y, rows * m).slice();
    };
    const y = run(0);
    // The f32 kernel ignores the panel; 16-bit weights are widened there block by block.
    expect(run(PANEL)).toEqual(y);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        let mag = 0;
        for (let i = 0; i < k; i++) {
          s += x[r * k + i] * wDecoded[j * k + i];
          mag += Math.abs(x[r * k + i] * wDecoded[j * k + i]);
        }
        expect(Math.abs(y[r * m + j] - s)).toBeLessThanOrEqual(mag * 2e-6 + 1e-30);
      }
    }
  });
});

test('splitColumns covers [0, m) in even, disjoint ranges', () => {
  for (const m of [2, 10, 128, 151936]) {
    for (const parts of [1, 2, 3, 8]) {
      let at = 0;
      for (let p = 0; p < parts; p++) {
        const [a, b] = splitColumns(m, parts, p);
        expect(a).toBe(at);
        expect((b - a) % 2).toBe(0);
        at = b;
      }
      expect(at).toBe(m);
    }
  }
});
