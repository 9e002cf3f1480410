/**
 * The fast CPU model's elementwise work beside its matmuls, in WebAssembly SIMD, in the matmul module
 * (so every kernel thread runs it on the shared memory): SwiGLU over the MLP's activations and the
 * log-sum-exp of rows of logits (a 0.5 B Qwen2's 151,936-word vocabulary: 19 M exps per 128 tokens). With
 * JavaScript's Math.exp they were ≈ 10 % of a forward pass on one thread.
 *
 * exp is Cephes' expf, four lanes at once: x clamped to [−87.34, 88], n = round(x · log₂e),
 * r = x − n · ln 2 (in two parts), a degree-7 polynomial in r, times 2ⁿ built in the exponent bits;
 * within 2 ulp of the exact value. Every lane computes the same function of its own element, and a
 * range's last elements go through the same code (one element splatted to four lanes): an element's
 * result does not depend on where a range starts or how the work is split over threads.
 *
 * swiglu(gate, up, out, a, b): out[i] = gate[i] / (1 + exp(−gate[i])) · up[i] for a ≤ i < b (f32 arrays at
 * byte addresses). lse_rows(logits, cols, out, a, b): for rows a ≤ r < b of logits [rows, cols] f32, the
 * row's max (f32) and Σ exp(x − max), summed in f64 (two f64x2 accumulators, then their four lanes), as
 * two f64 at out + 16 r: the caller takes max + log(sum).
 *
 * softmax_rows(scores, probs, geometry, a, b): causal attention's softmax for query rows a ≤ r < b. The
 * geometry at its byte address is i32 T (the scores' row length), i32 T8 (the probabilities' row length),
 * i32 past (cached positions), f32 scale (1/√headDim). Row r sees positions t < past + r + 1: probs[r, t] =
 * exp(s·scores[r, t] − max) / Σ, the max in f32 and Σ in f64 as for lse_rows, then Σ rounded to f32
 * and each quotient an f32 division (within 2 ulp of the double softmax's rounding beside expf's 2 ulp);
 * probs[r, t] = 0 for the rest of the row up to T8 (so the PV product reads zeros). At a context of 1,024
 * these exps are ≈ 20 M per 128 tokens of a 12-layer model: with Math.exp on the calling thread they cost
 * a fifth or more of the forward pass.
 */
import { doWhile, get, I32, I32_ADD, I32_LT_U, I32_MUL, I32_SUB, i32c, i32x4Add, i32x4Shl, load, set, simd, store, tee, V128, type WasmFunction } from '../../wasm/assembler';

export const ELEMENTWISE_EXPORTS = ['swiglu', 'lse_rows', 'softmax_rows'] as const;
export type ElementwiseExport = (typeof ELEMENTWISE_EXPORTS)[number];
export type ElementwiseFn = (a0: number, a1: number, a2: number, from: number, to: number) => void;

const f32c = (v: number): number[] => {
  const b = new Uint8Array(new Float32Array([v]).buffer);
  return [0x43, ...b];
};
const splat = (v: number): number[] => [...f32c(v), ...simd(0x13)];
const F32_LOAD = [0x2a, 2, 0];
const F32_LOAD_AT = (offset: number) => [0x2a, 2, offset];
const F32_STORE = [0x38, 2, 0];
const I32_AND = [0x71];
const F32_MAX = [0x97];
const I32_LOAD = (offset: number) => [0x28, 2, offset];
const F32_DEMOTE_F64 = [0xb6];
const F64_ADD = [0xa0];
const F64_PROMOTE_F32 = [0xbb];
const f64Store = (offset: number) => [0x39, 3, offset];
const f32x4Add = simd(0xe4);
const f32x4Sub = simd(0xe5);
const f32x4Mul = simd(0xe6);
const f32x4Div = simd(0xe7);
const f32x4Min = simd(0xe8);
const f32x4Max = simd(0xe9);
const f32x4Neg = simd(0xe1);
const f32x4Nearest = simd(0x6a);
const f32x4ExtractLane = (l: number) => simd(0x1f, l);
const i32x4TruncSatF32x4S = simd(0xf8);
const f64x2PromoteLowF32x4 = simd(0x5f);
const f64x2Add = simd(0xf0);
const f64x2ExtractLane = (l: number) => simd(0x21, l);
const v128Const = (bytes: number[]) => simd(0x0c, ...bytes);
const v128And = simd(0x4e);
/** Lanes 2 and 3 of a v128 moved to lanes 0 and 1. */
const highHalf = (v: number) => [...get(v), ...get(v), ...simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)];

// Cephes expf.
const EXP_HI = 88;
const EXP_LO = -87.33654;
const LOG2E = Math.LOG2E;
const C1 = 0.693359375;
const C2 = -2.12194440e-4;
const P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** exp of the f32x4 in local `x` (overwritten), left on the stack; `fx` and `r` are scratch v128 locals. */
function expF32x4(x: number, fx: number, r: number): number[] {
  const poly: number[] = [...splat(P[0])];
  for (const c of P.slice(1)) poly.push(...get(r), ...f32x4Mul, ...splat(c), ...f32x4Add);
  return [
    ...get(x), ...splat(EXP_LO), ...f32x4Max, ...splat(EXP_HI), ...f32x4Min, ...set(x),
    ...get(x), ...splat(LOG2E), ...f32x4Mul, ...f32x4Nearest, ...set(fx),
    ...get(x), ...get(fx), ...splat(C1), ...f32x4Mul, ...f32x4Sub, ...get(fx), ...splat(C2), ...f32x4Mul, ...f32x4Sub, ...set(r),
    // y = p(r) · r² + r + 1
    ...poly, ...get(r), ...f32x4Mul, ...get(r), ...f32x4Mul, ...get(r), ...f32x4Add, ...splat(1), ...f32x4Add,
    // × 2ⁿ: (n + 127) << 23 as f32 bits
    ...get(fx), ...i32x4TruncSatF32x4S, ...i32c(127), ...simd(0x11), ...i32x4Add, ...i32c(23), ...i32x4Shl,
    ...f32x4Mul,
  ];
}

function swiglu(): WasmFunction {
  const [gate, up, out, a, b] = [0, 1, 2, 3, 4];
  const [i, end4] = [5, 6];
  const [g, fx, r, e] = [7, 8, 9, 10];
  // out = g / (1 + exp(−g)) · u, with g in local `g` and u's vector pushed by `upVec`.
  const body = (upVec: number[]) => [...get(g), ...f32x4Neg, ...set(e), ...expF32x4(e, fx, r), ...splat(1), ...f32x4Add, ...set(e), ...get(g), ...get(e), ...f32x4Div, ...upVec, ...f32x4Mul];
  const at = (base: number) => [...get(base), ...get(i), ...i32c(4), ...I32_MUL, ...I32_ADD];
  const vectors = doWhile(
    [...at(gate), ...load(0), ...set(g), ...at(out), ...body([...at(up), ...load(0)]), ...store(0), ...get(i), ...i32c(4), ...I32_ADD, ...set(i)],
    [...get(i), ...get(end4), ...I32_LT_U],
  );
  const scalars = doWhile(
    [...at(gate), ...F32_LOAD, ...simd(0x13), ...set(g), ...at(out), ...body([...at(up), ...F32_LOAD, ...simd(0x13)]), ...f32x4ExtractLane(0), ...F32_STORE, ...get(i), ...i32c(1), ...I32_ADD, ...set(i)],
    [...get(i), ...get(b), ...I32_LT_U],
  );
  return {
    params: [I32, I32, I32, I32, I32],
    locals: [[2, I32], [4, V128]],
    body: [
      ...get(a), ...set(i),
      ...get(b), ...get(a), ...I32_SUB, ...i32c(-4), ...I32_AND, ...get(a), ...I32_ADD, ...set(end4), // a + ((b − a) & ~3)
      ...get(i), ...get(end4), ...I32_LT_U, 0x04, 0x40, ...vectors, 0x0b,
      ...get(i), ...get(b), ...I32_LT_U, 0x04, 0x40, ...scalars, 0x0b,
    ],
  };
}

function lseRows(): WasmFunction {
  const [logits, cols, out, a, b] = [0, 1, 2, 3, 4];
  const [row, j, end4, rowAt] = [5, 6, 7, 8];
  const [m, x, fx, r, s0, s1] = [9, 10, 11, 12, 13, 14];
  const mx = 15; // f32
  const el = [...get(rowAt), ...get(j), ...i32c(4), ...I32_MUL, ...I32_ADD];
  const maxVectors = doWhile([...get(m), ...el, ...load(0), ...f32x4Max, ...set(m), ...get(j), ...i32c(4), ...I32_ADD, ...set(j)], [...get(j), ...get(end4), ...I32_LT_U]);
  const maxScalars = doWhile([...get(m), ...el, ...F32_LOAD, ...simd(0x13), ...f32x4Max, ...set(m), ...get(j), ...i32c(1), ...I32_ADD, ...set(j)], [...get(j), ...get(cols), ...I32_LT_U]);
  const expOf = (vec: number[]) => [...vec, ...get(m), ...f32x4Sub, ...set(x), ...expF32x4(x, fx, r), ...set(x)];
  const sumVectors = doWhile(
    [
      ...expOf([...el, ...load(0)]),
      ...get(s0), ...get(x), ...f64x2PromoteLowF32x4, ...f64x2Add, ...set(s0),
      ...get(s1), ...highHalf(x), ...f64x2PromoteLowF32x4, ...f64x2Add, ...set(s1),
      ...get(j), ...i32c(4), ...I32_ADD, ...set(j),
    ],
    [...get(j), ...get(end4), ...I32_LT_U],
  );
  // One element splatted: its exp is added once (lane 0 of the promoted pair; lane 1 masked to +0).
  const lane0 = v128Const([255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
  const sumScalars = doWhile(
    [...expOf([...el, ...F32_LOAD, ...simd(0x13)]), ...get(s0), ...get(x), ...f64x2PromoteLowF32x4, ...lane0, ...v128And, ...f64x2Add, ...set(s0), ...get(j), ...i32c(1), ...I32_ADD, ...set(j)],
    [...get(j), ...get(cols), ...I32_LT_U],
  );
  const zero = v128Const(new Array<number>(16).fill(0));
  const hmax = [...get(m), ...f32x4ExtractLane(0), ...get(m), ...f32x4ExtractLane(1), ...F32_MAX, ...get(m), ...f32x4ExtractLane(2), ...get(m), ...f32x4ExtractLane(3), ...F32_MAX, ...F32_MAX];
  const rowBody = [
    ...get(logits), ...get(row), ...get(cols), ...I32_MUL, ...i32c(4), ...I32_MUL, ...I32_ADD, ...set(rowAt),
    ...splat(-Infinity), ...set(m), ...i32c(0), ...set(j),
    ...get(j), ...get(end4), ...I32_LT_U, 0x04, 0x40, ...maxVectors, 0x0b,
    ...get(j), ...get(cols), ...I32_LT_U, 0x04, 0x40, ...maxScalars, 0x0b,
    ...hmax, ...tee(mx), ...simd(0x13), ...set(m),
    ...zero, ...set(s0), ...zero, ...set(s1), ...i32c(0), ...set(j),
    ...get(j), ...get(end4), ...I32_LT_U, 0x04, 0x40, ...sumVectors, 0x0b,
    ...get(j), ...get(cols), ...I32_LT_U, 0x04, 0x40, ...sumScalars, 0x0b,
    // out[2r] = max, out[2r + 1] = (s0₀ + s0₁) + (s1₀ + s1₁)
    ...get(out), ...get(row), ...i32c(16), ...I32_MUL, ...I32_ADD, ...tee(rowAt), ...get(mx), ...F64_PROMOTE_F32, ...f64Store(0),
    ...get(rowAt),
    ...get(s0), ...f64x2ExtractLane(0), ...get(s0), ...f64x2ExtractLane(1), ...F64_ADD,
    ...get(s1), ...f64x2ExtractLane(0), ...get(s1), ...f64x2ExtractLane(1), ...F64_ADD, ...F64_ADD,
    ...f64Store(8),
    ...get(row), ...i32c(1), ...I32_ADD, ...set(row),
  ];
  return {
    params: [I32, I32, I32, I32, I32],
    locals: [[4, I32], [6, V128], [1, 0x7d]],
    body: [
      ...get(cols), ...i32c(-4), ...I32_AND, ...set(end4),
      ...get(a), ...set(row),
      ...get(row), ...get(b), ...I32_LT_U, 0x04, 0x40, ...doWhile(rowBody, [...get(row), ...get(b), ...I32_LT_U]), 0x0b,
    ],
  };
}

function softmaxRows(): WasmFunction {
  const [scores, probs, geometry, a, b] = [0, 1, 2, 3, 4];
  const [row, j, end4, sRow, pRow, visible, T, T8, past] = [5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [m, x, fx, r, s0, s1, scale] = [14, 15, 16, 17, 18, 19, 20];
  const mx = 21; // f32
  const at = (base: number) => [...get(base), ...get(j), ...i32c(4), ...I32_MUL, ...I32_ADD];
  const scaled = (vec: number[]) => [...vec, ...get(scale), ...f32x4Mul];
  const next = (step: number) => [...get(j), ...i32c(step), ...I32_ADD, ...set(j)];
  const below = (end: number) => [...get(j), ...get(end), ...I32_LT_U];
  const whileBelow = (end: number, body: number[]) => [...below(end), 0x04, 0x40, ...doWhile(body, below(end)), 0x0b];
  const scalar = (base: number) => [...at(base), ...F32_LOAD, ...simd(0x13)];
  const maxVectors = [...get(m), ...scaled([...at(sRow), ...load(0)]), ...f32x4Max, ...set(m), ...next(4)];
  const maxScalars = [...get(m), ...scaled(scalar(sRow)), ...f32x4Max, ...set(m), ...next(1)];
  const expOf = (vec: number[]) => [...scaled(vec), ...get(m), ...f32x4Sub, ...set(x), ...expF32x4(x, fx, r), ...set(x)];
  const lane0 = v128Const([255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
  const expVectors = [
    ...expOf([...at(sRow), ...load(0)]),
    ...at(pRow), ...get(x), ...store(0),
    ...get(s0), ...get(x), ...f64x2PromoteLowF32x4, ...f64x2Add, ...set(s0),
    ...get(s1), ...highHalf(x), ...f64x2PromoteLowF32x4, ...f64x2Add, ...set(s1),
    ...next(4),
  ];
  const expScalars = [
    ...expOf(scalar(sRow)),
    ...at(pRow), ...get(x), ...f32x4ExtractLane(0), ...F32_STORE,
    ...get(s0), ...get(x), ...f64x2PromoteLowF32x4, ...lane0, ...v128And, ...f64x2Add, ...set(s0),
    ...next(1),
  ];
  // m now holds Σ (rounded to f32) in every lane.
  const divideVectors = [...at(pRow), ...at(pRow), ...load(0), ...get(m), ...f32x4Div, ...store(0), ...next(4)];
  const divideScalars = [...at(pRow), ...scalar(pRow), ...get(m), ...f32x4Div, ...f32x4ExtractLane(0), ...F32_STORE, ...next(1)];
  const zeros = [...at(pRow), ...f32c(0), ...F32_STORE, ...next(1)];
  const zero = v128Const(new Array<number>(16).fill(0));
  const hmax = [...get(m), ...f32x4ExtractLane(0), ...get(m), ...f32x4ExtractLane(1), ...F32_MAX, ...get(m), ...f32x4ExtractLane(2), ...get(m), ...f32x4ExtractLane(3), ...F32_MAX, ...F32_MAX];
  const rowBody = [
    ...get(scores), ...get(row), ...get(T), ...I32_MUL, ...i32c(4), ...I32_MUL, ...I32_ADD, ...set(sRow),
    ...get(probs), ...get(row), ...get(T8), ...I32_MUL, ...i32c(4), ...I32_MUL, ...I32_ADD, ...set(pRow),
    ...get(past), ...get(row), ...I32_ADD, ...i32c(1), ...I32_ADD, ...tee(visible), ...i32c(-4), ...I32_AND, ...set(end4),
    ...splat(-Infinity), ...set(m), ...i32c(0), ...set(j),
    ...whileBelow(end4, maxVectors),
    ...whileBelow(visible, maxScalars),
    ...hmax, ...tee(mx), ...simd(0x13), ...set(m),
    ...zero, ...set(s0), ...zero, ...set(s1), ...i32c(0), ...set(j),
    ...whileBelow(end4, expVectors),
    ...whileBelow(visible, expScalars),
    ...get(s0), ...f64x2ExtractLane(0), ...get(s0), ...f64x2ExtractLane(1), ...F64_ADD,
    ...get(s1), ...f64x2ExtractLane(0), ...get(s1), ...f64x2ExtractLane(1), ...F64_ADD, ...F64_ADD,
    ...F32_DEMOTE_F64, ...simd(0x13), ...set(m), ...i32c(0), ...set(j),
    ...whileBelow(end4, divideVectors),
    ...whileBelow(visible, divideScalars),
    ...whileBelow(T8, zeros),
    ...get(row), ...i32c(1), ...I32_ADD, ...set(row),
  ];
  return {
    params: [I32, I32, I32, I32, I32],
    locals: [[9, I32], [7, V128], [1, 0x7d]],
    body: [
      ...get(geometry), ...I32_LOAD(0), ...set(T),
      ...get(geometry), ...I32_LOAD(4), ...set(T8),
      ...get(geometry), ...I32_LOAD(8), ...set(past),
      ...get(geometry), ...F32_LOAD_AT(12), ...simd(0x13), ...set(scale),
      ...get(a), ...set(row),
      ...get(row), ...get(b), ...I32_LT_U, 0x04, 0x40, ...doWhile(rowBody, [...get(row), ...get(b), ...I32_LT_U]), 0x0b,
    ],
  };
}

/** The module's elementwise functions, by export name. */
export function elementwiseFunctions(): Record<ElementwiseExport, WasmFunction> {
  return { swiglu: swiglu(), lse_rows: lseRows(), softmax_rows: softmaxRows() };
}
