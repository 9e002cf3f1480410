/**
 * The fast CPU model's matmul, y = x · Wᵀ, in WebAssembly SIMD (f32x4), reading the weights in the dtype
 * the checkpoint stores them (BF16 and F16 widened to f32 — exactly — block by block into a panel, or in
 * registers; F32 as is) and accumulating in f32. A tile of 4 activation rows × 2 weight rows keeps 8
 * accumulators in registers, so every weight vector loaded serves 4 tokens and every activation vector 2
 * outputs. The module works on an imported memory (shared between the threads of kernelThreads.ts where
 * SharedArrayBuffer may be used).
 *
 * Contract of mm_<dtype>(x, w, y, rows, k, m, j0, j1, jb, panel) (byte addresses; rows a multiple of 4, k a
 * multiple of 8, j1 − j0 and jb even, jb > 0; panel 0 or, for 16-bit weights, jb · k · 4 free bytes of
 * this thread's own): for r < rows and j0 ≤ j < j1, y[r·m + j] = Σᵢ x[r·k + i] · W[j·k + i], x and y f32,
 * W of the function's dtype.
 */
import {
  assembleModule, call, doWhile, f32Store, f32x4Add, f32x4ExtractLane, f32x4Mul, F32_ADD, get, I32, I32_ADD, I32_EQZ, I32_GE_U, I32_LT_U, I32_MUL, I32_SUB, i32c, i32x4Shl,
  i32x4Splat, ifThen, load, load16x4s, load16x4u, RETURN, set, simd, store, tee, v128And, V128, type WasmFunction,
} from '../../wasm/assembler';
import { elementwiseFunctions, type ElementwiseExport, type ElementwiseFn } from './elementwiseKernel';

export type WeightDtype = 'F32' | 'F16' | 'BF16';
export const DTYPE_BYTES: Readonly<Record<WeightDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
/** Rows of x and y are processed 4 at a time: buffers hold a multiple of 4 rows. */
export const ROW_TILE = 4;
/** Elements of k per inner step. */
export const K_STEP = 8;

/** The 4 f32 lanes of weight elements [4h, 4h + 4) at the pointer in local `p`, left on the stack. */
const decoders: Record<WeightDtype, (p: number, h: number) => number[]> = {
  F32: (p, h) => [...get(p), ...load(16 * h)],
  BF16: (p, h) => [...get(p), ...load16x4u(8 * h), ...i32c(16), ...i32x4Shl],
  // F16 by its bits: sign-extended, shifted so the exponent and mantissa sit where f32's do, the sign's
  // copies between them cleared, then × 2^112 rebiases the exponent (exact for normals and subnormals;
  // the loader refuses Inf/NaN weights, which this would read as large finite values).
  F16: (p, h) => [...get(p), ...load16x4s(8 * h), ...i32c(13), ...i32x4Shl, ...i32c(0x8fffe000 | 0), ...i32x4Splat, ...v128And, ...i32c(0x77800000), ...i32x4Splat, ...f32x4Mul],
};

/** Parameters of every exported matmul: x, w, y, rows, k, m, j0, j1, jb, panel. */
const PARAMS = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];

/**
 * The dot-product kernel over weights of `dtype` at their place (the panel argument is ignored). One
 * step of 4 k-elements per loop iteration: 8 accumulators, 2 weight vectors and 1 activation vector
 * stay within the 15 vector registers V8 allocates on x64 — a body of two steps, which V8 schedules
 * with every load hoisted to the top, spilled accumulators to the stack and ran at half the speed.
 * Each lane l of an accumulator sums the products of elements i ≡ l (mod 4) in increasing i, and the
 * lanes are added as (l0 + l1) + (l2 + l3): the order does not depend on blocking or threads.
 */
function dotFunction(dtype: WeightDtype): WasmFunction {
  const [x, w, y, rows, k, m, j0, j1, jb] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [r, j, wp0, wp1, end, xRow, wRow, yp, xr, mb, jb0, jEnd] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const xp = [22, 23, 24, 25];
  const acc = (ri: number, c: number) => 26 + ri * 2 + c; // 26..33
  const wv = (c: number) => 34 + c; // 34, 35
  const xv = 36;
  const eb = DTYPE_BYTES[dtype];
  const zero = simd(0x0c, ...new Array<number>(16).fill(0));

  const inner: number[] = [];
  for (const c of [0, 1]) inner.push(...decoders[dtype](c === 0 ? wp0 : wp1, 0), ...set(wv(c)));
  for (let ri = 0; ri < 4; ri++) {
    inner.push(...get(xp[ri]), ...load(0), ...set(xv));
    for (const c of [0, 1]) inner.push(...get(acc(ri, c)), ...get(xv), ...get(wv(c)), ...f32x4Mul, ...f32x4Add, ...set(acc(ri, c)));
  }
  inner.push(...get(wp0), ...i32c(4 * eb), ...I32_ADD, ...set(wp0), ...get(wp1), ...i32c(4 * eb), ...I32_ADD, ...set(wp1));
  for (const p of xp) inner.push(...get(p), ...i32c(16), ...I32_ADD, ...set(p));

  const hsum = (a: number) => [
    ...get(a), ...f32x4ExtractLane(0), ...get(a), ...f32x4ExtractLane(1), ...F32_ADD,
    ...get(a), ...f32x4ExtractLane(2), ...get(a), ...f32x4ExtractLane(3), ...F32_ADD, ...F32_ADD,
  ];
  const stores: number[] = [];
  for (let ri = 0; ri < 4; ri++) {
    for (const c of [0, 1]) stores.push(...get(yp), ...hsum(acc(ri, c)), ...f32Store(4 * c));
    stores.push(...get(yp), ...get(mb), ...I32_ADD, ...set(yp));
  }

  const jBody: number[] = [
    ...get(j), ...get(jEnd), ...I32_GE_U, 0x0d, 1, // br_if out of the j loop
    ...get(w), ...get(j), ...get(wRow), ...I32_MUL, ...I32_ADD, ...tee(wp0), ...get(wRow), ...I32_ADD, ...tee(wp1), ...set(end),
    ...get(xr), ...tee(xp[0]), ...get(xRow), ...I32_ADD, ...tee(xp[1]), ...get(xRow), ...I32_ADD, ...tee(xp[2]), ...get(xRow), ...I32_ADD, ...set(xp[3]),
  ];
  for (let ri = 0; ri < 4; ri++) for (const c of [0, 1]) jBody.push(...zero, ...set(acc(ri, c)));
  jBody.push(...doWhile(inner, [...get(wp0), ...get(end), ...I32_LT_U]));
  jBody.push(...get(y), ...get(r), ...get(mb), ...I32_MUL, ...I32_ADD, ...get(j), ...i32c(4), ...I32_MUL, ...I32_ADD, ...set(yp), ...stores);
  jBody.push(...get(j), ...i32c(2), ...I32_ADD, ...set(j), 0x0c, 0);

  // Weight rows in blocks of jb (sized by the caller to stay in the core's cache), and within a block
  // every tile of 4 activation rows: weights stream from memory once per call.
  const rBody: number[] = [
    ...get(r), ...get(rows), ...I32_GE_U, 0x0d, 1, // br_if out of the row loop
    ...get(x), ...get(r), ...get(xRow), ...I32_MUL, ...I32_ADD, ...set(xr),
    ...get(jb0), ...set(j),
    0x02, 0x40, 0x03, 0x40, ...jBody, 0x0b, 0x0b,
    ...get(r), ...i32c(4), ...I32_ADD, ...set(r), 0x0c, 0,
  ];
  const blockBody: number[] = [
    ...get(jb0), ...get(j1), ...I32_GE_U, 0x0d, 1, // br_if out of the block loop
    ...get(jb0), ...get(jb), ...I32_ADD, ...get(j1), ...get(jb0), ...get(jb), ...I32_ADD, ...get(j1), ...I32_LT_U, 0x1b, ...set(jEnd), // min(jb0 + jb, j1)
    ...i32c(0), ...set(r),
    0x02, 0x40, 0x03, 0x40, ...rBody, 0x0b, 0x0b,
    ...get(jEnd), ...set(jb0), 0x0c, 0,
  ];
  const body: number[] = [
    ...get(k), ...i32c(4), ...I32_MUL, ...set(xRow),
    ...get(k), ...i32c(eb), ...I32_MUL, ...set(wRow),
    ...get(m), ...i32c(4), ...I32_MUL, ...set(mb),
    ...get(j0), ...set(jb0),
    0x02, 0x40, 0x03, 0x40, ...blockBody, 0x0b, 0x0b,
  ];
  return { params: PARAMS, locals: [[16, I32], [11, V128]], body };
}

/**
 * A 16-bit dtype's matmul. With a panel (a byte address, PANEL_BYTES or panelBytes(k) free), each
 * block of jb weight rows is first widened to f32 there — exactly, once per block — and multiplied by
 * the f32 kernel, which has no widening in its inner loop: the widening is paid once per block instead
 * of once per tile of 4 activation rows. Without (panel 0), the weights are widened in the inner loop,
 * cheaper for a single row tile. Both sum in the same order, so their results are identical.
 */
function panelFunction(dtype: 'F16' | 'BF16', f32Dot: number, ownDot: number): WasmFunction {
  const [x, w, y, rows, k, m, j0, j1, jb, panel] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [jb0, jEnd, src, dst, end] = [10, 11, 12, 13, 14];
  const eb = DTYPE_BYTES[dtype];
  const args = (wAt: number[], a: number, b: number, block: number[]) => [
    ...get(x), ...wAt, ...get(y), ...get(rows), ...get(k), ...get(m), ...get(a), ...get(b), ...block, ...i32c(0),
  ];
  const widen: number[] = [];
  for (const h of [0, 1]) widen.push(...get(dst), ...decoders[dtype](src, h), ...store(16 * h));
  widen.push(...get(src), ...i32c(8 * eb), ...I32_ADD, ...set(src), ...get(dst), ...i32c(32), ...I32_ADD, ...set(dst));
  const blockBody: number[] = [
    ...get(jb0), ...get(j1), ...I32_GE_U, 0x0d, 1, // br_if out of the block loop
    ...get(jb0), ...get(jb), ...I32_ADD, ...get(j1), ...get(jb0), ...get(jb), ...I32_ADD, ...get(j1), ...I32_LT_U, 0x1b, ...set(jEnd), // min(jb0 + jb, j1)
    ...get(w), ...get(jb0), ...get(k), ...I32_MUL, ...i32c(eb), ...I32_MUL, ...I32_ADD, ...tee(src),
    ...get(jEnd), ...get(jb0), ...I32_SUB, ...get(k), ...I32_MUL, ...i32c(eb), ...I32_MUL, ...I32_ADD, ...set(end),
    ...get(panel), ...set(dst),
    ...doWhile(widen, [...get(src), ...get(end), ...I32_LT_U]),
    // The panel holds rows [jb0, jEnd): the f32 kernel is pointed at where row 0 would be (i32
    // arithmetic wraps, and the kernel only adds j · 4k back for j ≥ jb0).
    ...args([...get(panel), ...get(jb0), ...get(k), ...I32_MUL, ...i32c(4), ...I32_MUL, ...I32_SUB], jb0, jEnd, [...get(jEnd), ...get(jb0), ...I32_SUB]),
    ...call(f32Dot),
    ...get(jEnd), ...set(jb0), 0x0c, 0,
  ];
  const body: number[] = [
    ...get(panel), ...I32_EQZ,
    ...ifThen([...args(get(w), j0, j1, get(jb)), ...call(ownDot), ...RETURN]),
    ...get(j0), ...set(jb0),
    0x02, 0x40, 0x03, 0x40, ...blockBody, 0x0b, 0x0b,
  ];
  return { params: PARAMS, locals: [[5, I32]], body };
}

export const MATMUL_EXPORTS: Readonly<Record<WeightDtype, string>> = { F32: 'mm_f32', F16: 'mm_f16', BF16: 'mm_bf16' };

/** The module's bytes, over an imported memory of these limits (in 64 KiB pages). */
export function matmulModuleBytes(memory: { initial: number; maximum: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  // Function numbers follow this order (the panel functions call the dot kernels by number).
  return assembleModule(
    {
      mm_f32: dotFunction('F32'),
      dot_f16: dotFunction('F16'),
      dot_bf16: dotFunction('BF16'),
      mm_f16: panelFunction('F16', 0, 1),
      mm_bf16: panelFunction('BF16', 0, 2),
      ...elementwiseFunctions(),
    },
    { importMemory: memory },
  );
}

export type MatmulFn = (x: number, w: number, y: number, rows: number, k: number, m: number, j0: number, j1: number, jb: number, panel: number) => void;
export type MatmulExports = Record<'mm_f32' | 'mm_f16' | 'mm_bf16', MatmulFn> & Record<ElementwiseExport, ElementwiseFn>;

/** Whether this engine runs WebAssembly SIMD (validates a small module of the kernel). */
export function wasmSimdAvailable(): boolean {
  try {
    return typeof WebAssembly !== 'undefined' && WebAssembly.validate(matmulModuleBytes({ initial: 1, maximum: 1, shared: false }));
  } catch {
    return false;
  }
}

/** Splits weight rows [0, m) into `parts` even-sized ranges (m even; the last ones may be empty). */
export function splitColumns(m: number, parts: number, part: number): [number, number] {
  const pairs = m / 2;
  const per = Math.ceil(pairs / parts);
  const a = Math.min(pairs, part * per) * 2;
  const b = Math.min(pairs, (part + 1) * per) * 2;
  return [a, b];
}

/** Bytes of weights (as held, or as widened into a panel) per block: the block stays in a core's L2 while every row tile passes. */
const BLOCK_BYTES = 262144;

/** Weight rows per block for weights of `dtype`, or for 16-bit weights widened into a panel (`widened`). */
export function blockRows(k: number, dtype: WeightDtype, widened = false): number {
  return Math.max(2, Math.floor(BLOCK_BYTES / (k * (widened ? 4 : DTYPE_BYTES[dtype]))) & ~1);
}

/** Bytes one thread's panel needs for inputs of up to `k` features (a block of widened rows). */
export function panelBytes(k: number): number {
  return Math.max(BLOCK_BYTES, 2 * k * 4);
}

/** Below this many activation rows the weights are widened in the inner loop (the panel would serve one tile). */
export const PANEL_MIN_ROWS = 8;
