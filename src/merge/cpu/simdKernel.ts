/**
 * The soup arithmetic on WebAssembly SIMD (f32x4): four lanes per
 * instruction instead of one element per JavaScript statement. WebAssembly's f32 operations are
 * IEEE binary32 with round-to-nearest-even, keep subnormals, and are never fused into an FMA, so the
 * results are bit-exact to runSoupJobReference (tested); NaN payloads are canonicalised on the bits
 * at the end, as everywhere. The module is tiny and assembled here, byte by byte, so that no build
 * step or binary file is needed. F16 inputs are decoded in SIMD; F16 output is encoded in JavaScript.
 */
import {
  bitselect, extendHighU, extendLowU, F32, f32x4Add, f32x4Mul, f32x4Splat, f32x4Sub, get, I32, I32_ADD, I32_GE_U, I32_SHL, i32c, i32x4Add, i32x4Eq, i32x4GtU, i32x4Shl,
  i32x4ShrU, i32x4Splat, load, narrowU, section, set, store, uleb, v128And, v128Or, V128, vec,
} from '../../wasm/assembler';
import { KERNEL_DTYPE_BYTES, type SoupSpan } from '../kernel';

/** Elements per block; four regions of BLOCK × 4 bytes in the module's memory. */
export const SIMD_BLOCK = 16384;
const ACC = 0;
const BASE = SIMD_BLOCK * 4;
const IN = SIMD_BLOCK * 8;
const OUT = SIMD_BLOCK * 12;
const PAGES = (SIMD_BLOCK * 16) / 65536;

/** `for (i = 0; i < n; i += 8) body` with local `i`; the body sees addresses via `addr(base, shift)`. */
function loop8(iLocal: number, nLocal: number, body: number[]): number[] {
  return [
    ...i32c(0), ...set(iLocal),
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...get(iLocal), ...get(nLocal), ...I32_GE_U, 0x0d, 1, // br_if out
    ...body,
    ...get(iLocal), ...i32c(8), ...I32_ADD, ...set(iLocal),
    0x0c, 0, // br loop
    0x0b, 0x0b,
  ];
}

const splat32 = (v: number) => [...i32c(v), ...i32x4Splat];

/** base + (i << shift) */
const addr = (baseLocal: number, iLocal: number, shift: number) => [...get(baseLocal), ...get(iLocal), ...i32c(shift), ...I32_SHL, ...I32_ADD];

/**
 * The 4 lanes of f32 x for half `h` (0: elements 0–3, 1: 4–7) of 8 elements at src, left on the
 * stack; `t` is the first of two scratch v128 locals.
 */
type Half = (src: number, i: number, h: number, t: number) => number[];

const bf16Half: Half = (src, i, h) => [...addr(src, i, 1), ...load(), ...(h === 0 ? extendLowU : extendHighU), ...i32c(16), ...i32x4Shl];
const f32Half: Half = (src, i, h) => [...addr(src, i, 2), ...load(16 * h)];
/**
 * F16 on the bits: (h & 0x7fff) << 13 read as an f32 and multiplied by 2^112 is exactly the value for
 * normals, subnormals and zero (WebAssembly keeps subnormals); exponent 31 becomes Inf/NaN with the
 * payload kept; then the sign is or-ed in.
 */
const f16Half: Half = (src, i, h, t) => [
  ...addr(src, i, 1), ...load(), ...(h === 0 ? extendLowU : extendHighU), ...set(t),
  // special = m | 0x7f800000, with m = (h & 0x7fff) << 13 kept in t+1
  ...get(t), ...splat32(0x7fff), ...v128And, ...i32c(13), ...i32x4Shl, ...set(t + 1),
  ...get(t + 1), ...splat32(0x7f800000), ...v128Or,
  ...get(t + 1), ...splat32(0x77800000), ...f32x4Mul, // × 2^112
  ...get(t), ...splat32(0x7c00), ...v128And, ...splat32(0x7c00), ...i32x4Eq,
  ...bitselect,
  ...get(t), ...splat32(0x8000), ...v128And, ...i32c(16), ...i32x4Shl, ...v128Or,
];

// Linear term: (acc, src, n, c). first: acc = c·x + 0; add: acc = acc + c·x.
function linearFn(half: Half, first: boolean): { type: number; locals: number[][]; body: number[] } {
  const [acc, src, n, c, i, cv, t] = [0, 1, 2, 3, 4, 5, 6];
  const body: number[] = [...get(c), ...f32x4Splat, ...set(cv)];
  const step: number[] = [];
  for (const h of [0, 1]) {
    step.push(...addr(acc, i, 2)); // store address
    if (first) {
      step.push(...half(src, i, h, t), ...get(cv), ...f32x4Mul, ...i32c(0), ...i32x4Splat, ...f32x4Add);
    } else {
      step.push(...addr(acc, i, 2), ...load(16 * h), ...half(src, i, h, t), ...get(cv), ...f32x4Mul, ...f32x4Add);
    }
    step.push(...store(16 * h));
  }
  body.push(...loop8(i, n, step));
  return { type: 0, locals: [[1, I32], [3, V128]], body };
}

// Delta term: (acc, base, src, n, c): acc = acc + c·(x − b).
function deltaFn(half: Half): { type: number; locals: number[][]; body: number[] } {
  const [acc, base, src, n, c, i, cv, t] = [0, 1, 2, 3, 4, 5, 6, 7];
  const body: number[] = [...get(c), ...f32x4Splat, ...set(cv)];
  const step: number[] = [];
  for (const h of [0, 1]) {
    step.push(...addr(acc, i, 2), ...addr(acc, i, 2), ...load(16 * h));
    step.push(...half(src, i, h, t), ...addr(base, i, 2), ...load(16 * h), ...f32x4Sub, ...get(cv), ...f32x4Mul, ...f32x4Add, ...store(16 * h));
  }
  body.push(...loop8(i, n, step));
  return { type: 1, locals: [[1, I32], [3, V128]], body };
}

// (dst, src, n): BF16 or F16 → f32.
function decodeFn(half: Half): { type: number; locals: number[][]; body: number[] } {
  const [dst, src, n, i, t] = [0, 1, 2, 3, 4];
  const step: number[] = [];
  for (const h of [0, 1]) step.push(...addr(dst, i, 2), ...half(src, i, h, t), ...store(16 * h));
  return { type: 2, locals: [[1, I32], [2, V128]], body: loop8(i, n, step) };
}


/** f32 bits on the stack → NaN mask (all ones where (u & 0x7fffffff) > 0x7f800000); consumes a copy in local `u`. */
const nanMask = (u: number) => [...get(u), ...splat32(0x7fffffff), ...v128And, ...splat32(0x7f800000), ...i32x4GtU];

// (dst, acc, n): f32 → BF16, round to nearest even, NaN → 0x7fc0.
function encodeBf16Fn(): { type: number; locals: number[][]; body: number[] } {
  const [dst, acc, n, i, u] = [0, 1, 2, 3, 4];
  const half = (h: number) => [
    ...addr(acc, i, 2), ...load(16 * h), ...set(u),
    ...splat32(0x7fc0),
    // (u + 0x7fff + ((u >> 16) & 1)) >> 16
    ...get(u), ...splat32(0x7fff), ...i32x4Add, ...get(u), ...i32c(16), ...i32x4ShrU, ...splat32(1), ...v128And, ...i32x4Add, ...i32c(16), ...i32x4ShrU,
    ...nanMask(u), ...bitselect,
  ];
  const step = [...addr(dst, i, 1), ...half(0), ...half(1), ...narrowU, ...store()];
  return { type: 2, locals: [[1, I32], [1, V128]], body: loop8(i, n, step) };
}

// (dst, acc, n): f32 → F32 with NaN → 0x7fc00000.
function encodeF32Fn(): { type: number; locals: number[][]; body: number[] } {
  const [dst, acc, n, i, u] = [0, 1, 2, 3, 4];
  const step: number[] = [];
  for (const h of [0, 1]) step.push(...addr(dst, i, 2), ...addr(acc, i, 2), ...load(16 * h), ...set(u), ...splat32(0x7fc00000), ...get(u), ...nanMask(u), ...bitselect, ...store(16 * h));
  return { type: 2, locals: [[1, I32], [1, V128]], body: loop8(i, n, step) };
}

const FUNCTIONS = {
  bf16First: linearFn(bf16Half, true),
  bf16Add: linearFn(bf16Half, false),
  f32First: linearFn(f32Half, true),
  f32Add: linearFn(f32Half, false),
  f16First: linearFn(f16Half, true),
  f16Add: linearFn(f16Half, false),
  bf16Delta: deltaFn(bf16Half),
  f32Delta: deltaFn(f32Half),
  f16Delta: deltaFn(f16Half),
  decodeBf16: decodeFn(bf16Half),
  decodeF16: decodeFn(f16Half),
  encodeBf16: encodeBf16Fn(),
  encodeF32: encodeF32Fn(),
};

type Exports = { [K in keyof typeof FUNCTIONS]: (...args: number[]) => void } & { memory: WebAssembly.Memory };

/**
 * The module's bytes. `imported`: the memory is imported (env.memory, shared, up to 4 GiB) instead of
 * its own: one module then instantiates over any shared arena (createSharedArena).
 */
function assemble(imported = false): Uint8Array<ArrayBuffer> {
  const names = Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[];
  const fns = names.map((k) => FUNCTIONS[k]);
  const types = [
    [0x60, ...vec([[I32], [I32], [I32], [F32]]), 0], // (acc, src, n, c)
    [0x60, ...vec([[I32], [I32], [I32], [I32], [F32]]), 0], // (acc, base, src, n, c)
    [0x60, ...vec([[I32], [I32], [I32]]), 0], // (dst, src, n)
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    // env.memory: a memory import (0x02), shared with a maximum (0x03), 1 to 65536 pages.
    ...(imported ? section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])) : []),
    ...section(3, vec(fns.map((f) => uleb(f.type)))),
    ...(imported ? [] : section(5, vec([[0x00, ...uleb(PAGES)]]))),
    ...section(7, vec([
      ...names.map((n, k) => [...name(n), 0x00, ...uleb(k)]),
      [...name('memory'), 0x02, 0],
    ])),
    ...section(10, vec(fns.map((f) => {
      const code = [...vec(f.locals), ...f.body, 0x0b];
      return [...uleb(code.length), ...code];
    }))),
  ];
  return new Uint8Array(bytes);
}

/** A name as WebAssembly encodes it: its UTF-8 bytes, counted. */
const name = (text: string): number[] => vec([...new TextEncoder().encode(text)].map((b) => [b]));

let instance: Exports | null | undefined;

/** The instantiated module, or null where WebAssembly SIMD is unavailable. */
function simdExports(): Exports | null {
  if (instance !== undefined) return instance;
  try {
    const bytes = assemble();
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return (instance = null);
    instance = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Exports;
  } catch {
    instance = null;
  }
  return instance;
}

export function simdAvailable(): boolean {
  return simdExports() !== null;
}

/** Whether this span can run here: WebAssembly SIMD present (every dtype is handled). */
export function simdApplies(_span: SoupSpan): boolean {
  return simdAvailable();
}

/** Writes n elements of F16 (the one encoding not done in SIMD) from f32 accumulator bits. */
export type F16Encoder = (accBits: Uint32Array, out: Uint8Array, start: number, n: number) => void;

/**
 * Computes the span into `out` (see computeSoupSpan); call only where simdApplies(span). F16 output
 * is encoded by `encodeF16` from the accumulator, in JavaScript.
 */
export function computeSoupSpanSimd(span: SoupSpan, out: Uint8Array, encodeF16: F16Encoder): void {
  const w = simdExports();
  if (!w) throw new Error('WebAssembly SIMD is not available');
  const mem = new Uint8Array(w.memory.buffer);
  const accBits = new Uint32Array(w.memory.buffer, ACC, SIMD_BLOCK);
  const { inputs, coefficients: c, count } = span;
  const first = { F32: w.f32First, BF16: w.bf16First, F16: w.f16First };
  const add = { F32: w.f32Add, BF16: w.bf16Add, F16: w.f16Add };
  const delta = { F32: w.f32Delta, BF16: w.bf16Delta, F16: w.f16Delta };
  const outSize = span.outDtype === 'F32' ? 4 : 2;
  for (let start = 0; start < count; start += SIMD_BLOCK) {
    const n = Math.min(SIMD_BLOCK, count - start);
    const padded = Math.ceil(n / 8) * 8; // lanes past n compute garbage that is never copied out
    const place = (k: number, at: number): void => {
      const size = inputs[k].dtype === 'F32' ? 4 : 2;
      mem.set(inputs[k].bytes.subarray(start * size, (start + n) * size), at);
    };
    if (span.mode === 'linear') {
      for (let k = 0; k < inputs.length; k++) {
        place(k, IN);
        (k === 0 ? first : add)[inputs[k].dtype](ACC, IN, padded, c[k]);
      }
    } else {
      const baseDtype = inputs[0].dtype;
      if (baseDtype === 'F32') {
        place(0, BASE);
      } else {
        place(0, IN);
        (baseDtype === 'BF16' ? w.decodeBf16 : w.decodeF16)(BASE, IN, padded);
      }
      mem.copyWithin(ACC, BASE, BASE + padded * 4);
      for (let k = 1; k < inputs.length; k++) {
        place(k, IN);
        delta[inputs[k].dtype](ACC, BASE, IN, padded, c[k]);
      }
    }
    if (span.outDtype === 'F16') {
      encodeF16(accBits, out, start, n);
      continue;
    }
    (outSize === 4 ? w.encodeF32 : w.encodeBf16)(OUT, ACC, padded);
    out.set(mem.subarray(OUT, OUT + n * outSize), start * outSize);
  }
}

/** Scratch bytes the in-arena kernel needs per thread: the accumulator, the decoded base, an output tail. */
export const SIMD_ARENA_SCRATCH_BYTES = SIMD_BLOCK * 8 + 64;

/**
 * A shared WebAssembly memory of at least `bytes` bytes (its buffer a SharedArrayBuffer), for data the
 * soup kernel then reads and writes in place; undefined where none can be made (no WebAssembly
 * threads, a page that is not cross-origin isolated, more than 4 GiB).
 */
export function createSharedArena(bytes: number): WebAssembly.Memory | undefined {
  const pages = Math.ceil(bytes / 65536);
  if (pages < 1 || pages > 65536 || typeof SharedArrayBuffer === 'undefined' || !simdAvailable()) return undefined;
  try {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return memory.buffer instanceof SharedArrayBuffer ? memory : undefined;
  } catch {
    return undefined;
  }
}

/** The module over an imported shared memory, compiled once per thread (null: unavailable). */
let arenaModule: WebAssembly.Module | null | undefined;
/** The arena this thread's in-place kernel works in, and where its scratch lies there. */
let arenaKernel: { id: number; exports: Exports; memory: WebAssembly.Memory; scratch: number } | undefined;

/**
 * Binds this thread's in-place kernel to arena `id` (a memory from createSharedArena), its scratch
 * (SIMD_ARENA_SCRATCH_BYTES, used by no other thread) at byte `scratch`. False where it cannot be.
 */
export function bindSimdArena(id: number, memory: WebAssembly.Memory, scratch: number): boolean {
  if (arenaKernel?.id === id) return true;
  arenaKernel = undefined;
  if (arenaModule === undefined) {
    try {
      const bytes = assemble(true);
      arenaModule = simdAvailable() && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      arenaModule = null;
    }
  }
  if (!arenaModule || scratch < 0 || scratch + SIMD_ARENA_SCRATCH_BYTES > memory.buffer.byteLength) return false;
  try {
    const exports = new WebAssembly.Instance(arenaModule, { env: { memory } }).exports as unknown as Exports;
    arenaKernel = { id, exports, memory, scratch };
    return true;
  } catch {
    return false;
  }
}

/** Whether arena `id` is the one this thread's in-place kernel is bound to. */
export function simdArenaBound(id: number): boolean {
  return arenaKernel?.id === id;
}

/** Byte addresses in the bound arena of a span's inputs (in order) and of its output. */
export interface ArenaAddresses {
  arena: number;
  inputs: number[];
  out: number;
}

/**
 * computeSoupSpanSimd on data that lies in the bound arena (simdArenaBound(at.arena)): the kernel reads
 * the inputs and writes the output where they are, without copying them into its own memory and back
 * (those copies cost as much as the arithmetic). Same functions, same order of operations: the same
 * bits. Lanes past the span's end are read (harmless) but never written: a block's last elements
 * that do not fill 8 lanes are encoded into the scratch and copied out.
 */
export function computeSoupSpanInArena(span: SoupSpan, at: ArenaAddresses, out: Uint8Array, encodeF16: F16Encoder): void {
  const k = arenaKernel;
  if (!k || k.id !== at.arena) throw new Error(`computeSoupSpanInArena: arena ${at.arena} is not bound here`);
  const w = k.exports;
  const mem = new Uint8Array(k.memory.buffer);
  const acc = k.scratch;
  const baseScratch = acc + SIMD_BLOCK * 4;
  const tail = acc + SIMD_BLOCK * 8;
  const accBits = new Uint32Array(k.memory.buffer, acc, SIMD_BLOCK);
  const { inputs, coefficients: c, count } = span;
  const first = { F32: w.f32First, BF16: w.bf16First, F16: w.f16First };
  const add = { F32: w.f32Add, BF16: w.bf16Add, F16: w.f16Add };
  const delta = { F32: w.f32Delta, BF16: w.bf16Delta, F16: w.f16Delta };
  const outSize = KERNEL_DTYPE_BYTES[span.outDtype];
  for (let start = 0; start < count; start += SIMD_BLOCK) {
    const n = Math.min(SIMD_BLOCK, count - start);
    const padded = Math.ceil(n / 8) * 8;
    const src = (i: number) => at.inputs[i] + start * KERNEL_DTYPE_BYTES[inputs[i].dtype];
    if (span.mode === 'linear') {
      for (let i = 0; i < inputs.length; i++) (i === 0 ? first : add)[inputs[i].dtype](acc, src(i), padded, c[i]);
    } else {
      const baseDtype = inputs[0].dtype;
      let base = src(0);
      if (baseDtype !== 'F32') {
        (baseDtype === 'BF16' ? w.decodeBf16 : w.decodeF16)(baseScratch, base, padded);
        base = baseScratch;
      }
      mem.copyWithin(acc, base, base + padded * 4);
      for (let i = 1; i < inputs.length; i++) delta[inputs[i].dtype](acc, base, src(i), padded, c[i]);
    }
    if (span.outDtype === 'F16') {
      encodeF16(accBits, out, start, n);
      continue;
    }
    const encode = outSize === 4 ? w.encodeF32 : w.encodeBf16;
    const whole = n - (n % 8);
    const dst = at.out + start * outSize;
    if (whole > 0) encode(dst, acc, whole);
    if (whole < n) {
      encode(tail, acc + whole * 4, 8);
      mem.copyWithin(dst + whole * outSize, tail, tail + (n - whole) * outSize);
    }
  }
}
