/**
 * The soup arithmetic of kernel.ts, fast: blocks of a few thousand elements that stay in cache, tight
 * loops over typed arrays, bf16 decoded by a shift into an aliased Uint32Array, f16 by a 64 Ki-entry
 * table, products and sums rounded to f32 by Math.fround / Float32Array stores. Bit-exact to
 * runSoupJobReference (tested); runs in worker threads, web workers and in-thread.
 */
import { f16ToF32Bits } from '../../formats/floatCodecs';
import type { KernelDtype, SoupMode } from '../kernel';
import { KERNEL_DTYPE_BYTES } from '../kernel';

/** The parts of a job the arithmetic needs; inputs and output cover the same `count` elements. */
export interface SoupSpan {
  mode: SoupMode;
  coefficients: Float32Array;
  inputs: { dtype: KernelDtype; bytes: Uint8Array }[];
  outDtype: KernelDtype;
  count: number;
}

const BLOCK = 4096;

let f16Table: Float32Array | undefined;

/** f16 bits → f32 value for every one of the 65536 patterns, exact (subnormals, Inf, NaN payloads kept). */
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = f16ToF32Bits(h);
    f16Table = new Float32Array(bits.buffer);
  }
  return f16Table;
}

class Scratch {
  readonly acc = new Float32Array(BLOCK);
  readonly accBits = new Uint32Array(this.acc.buffer);
  readonly x = new Float32Array(BLOCK);
  readonly xBits = new Uint32Array(this.x.buffer);
  readonly base = new Float32Array(BLOCK);
  readonly baseBits = new Uint32Array(this.base.buffer);
  /** Aligned landing place for input bytes whose view is not aligned to its element size. */
  readonly raw = new Uint8Array(BLOCK * 4);
  readonly rawU16 = new Uint16Array(this.raw.buffer);
  readonly rawF32 = new Float32Array(this.raw.buffer);
}

let scratch: Scratch | undefined;

/**
 * Decodes elements [start, start + n) of one input into `x` (or returns an aligned f32 view directly).
 * `bits` aliases `x`.
 */
function decodeBlock(dtype: KernelDtype, bytes: Uint8Array, start: number, n: number, s: Scratch, x: Float32Array, bits: Uint32Array): Float32Array {
  const size = KERNEL_DTYPE_BYTES[dtype];
  const byteStart = bytes.byteOffset + start * size;
  if (dtype === 'F32') {
    if (byteStart % 4 === 0) return new Float32Array(bytes.buffer, byteStart, n);
    s.raw.set(bytes.subarray(start * 4, (start + n) * 4));
    return s.rawF32;
  }
  let h: Uint16Array;
  if (byteStart % 2 === 0) {
    h = new Uint16Array(bytes.buffer, byteStart, n);
  } else {
    s.raw.set(bytes.subarray(start * 2, (start + n) * 2));
    h = s.rawU16;
  }
  if (dtype === 'BF16') {
    for (let j = 0; j < n; j++) bits[j] = h[j] << 16;
  } else {
    const table = f16ToF32Table();
    for (let j = 0; j < n; j++) x[j] = table[h[j]];
  }
  return x;
}

/** acc[j] = f32(c·x[j]) + 0 — the first linear term: 0 + (−0) is +0, as the definition says. */
function linearFirst(acc: Float32Array, x: Float32Array, c: number, n: number): void {
  const fr = Math.fround;
  for (let j = 0; j < n; j++) acc[j] = fr(c * x[j]) + 0;
}

function linearAdd(acc: Float32Array, x: Float32Array, c: number, n: number): void {
  const fr = Math.fround;
  for (let j = 0; j < n; j++) acc[j] += fr(c * x[j]);
}

function deltaAdd(acc: Float32Array, x: Float32Array, b: Float32Array, c: number, n: number): void {
  const fr = Math.fround;
  for (let j = 0; j < n; j++) acc[j] += fr(c * fr(x[j] - b[j]));
}

function encodeBlock(outDtype: KernelDtype, accBits: Uint32Array, out: Uint8Array, start: number, n: number): void {
  if (outDtype === 'F32') {
    const o = new Uint32Array(out.buffer, out.byteOffset + start * 4, n);
    for (let j = 0; j < n; j++) {
      const u = accBits[j];
      o[j] = (u & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : u;
    }
    return;
  }
  const o = new Uint16Array(out.buffer, out.byteOffset + start * 2, n);
  if (outDtype === 'BF16') {
    for (let j = 0; j < n; j++) {
      const u = accBits[j];
      // u + 0x7fff + 1 stays below 2^32 for every non-NaN pattern (the largest is −Inf, 0xff800000).
      o[j] = (u & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
    return;
  }
  for (let j = 0; j < n; j++) {
    const u = accBits[j];
    const sign = (u >>> 16) & 0x8000;
    const exp = (u >>> 23) & 0xff;
    const mant = u & 0x7fffff;
    let h: number;
    if (exp === 0xff) {
      h = mant !== 0 ? 0x7e00 : sign | 0x7c00; // NaN → canonical quiet NaN, sign dropped
    } else if (exp >= 143) {
      h = sign | 0x7c00; // ≥ 2^16: overflow
    } else if (exp > 112) {
      // Normal f16: keep 10 mantissa bits, round to nearest even; a carry may reach Inf, which is right.
      const rem = mant & 0x1fff;
      h = ((exp - 112) << 10) | (mant >>> 13);
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
      h |= sign;
    } else {
      const shift = 126 - exp;
      if (shift > 24) {
        h = sign;
      } else {
        const full = mant | 0x800000;
        let m = full >>> shift;
        const rem = full & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rem > halfway || (rem === halfway && (m & 1) !== 0)) m++;
        h = sign | m;
      }
    }
    o[j] = h;
  }
}

/**
 * Computes `span.count` elements into `out` (span.count × size of outDtype bytes, any byteOffset
 * aligned to the output element size — callers allocate it). Assumes a little-endian host.
 */
export function computeSoupSpan(span: SoupSpan, out: Uint8Array): void {
  const s = (scratch ??= new Scratch());
  const { inputs, coefficients: c, count } = span;
  const outSize = KERNEL_DTYPE_BYTES[span.outDtype];
  if ((out.byteOffset % outSize) !== 0) throw new Error('computeSoupSpan: output view not aligned');
  for (let start = 0; start < count; start += BLOCK) {
    const n = Math.min(BLOCK, count - start);
    const acc = s.acc;
    if (span.mode === 'linear') {
      for (let i = 0; i < inputs.length; i++) {
        const x = decodeBlock(inputs[i].dtype, inputs[i].bytes, start, n, s, s.x, s.xBits);
        if (i === 0) linearFirst(acc, x, c[0], n);
        else linearAdd(acc, x, c[i], n);
      }
    } else {
      const b = decodeBlock(inputs[0].dtype, inputs[0].bytes, start, n, s, s.base, s.baseBits);
      acc.set(n === BLOCK ? b : b.subarray(0, n));
      // A base read straight from an aligned F32 view can be used as is; an unaligned one landed in
      // s.raw, which the next decode reuses: keep a copy.
      const base = b === s.rawF32 ? s.base : b;
      if (b === s.rawF32) s.base.set(b.subarray(0, n));
      for (let i = 1; i < inputs.length; i++) {
        const x = decodeBlock(inputs[i].dtype, inputs[i].bytes, start, n, s, s.x, s.xBits);
        deltaAdd(acc, x, base, c[i], n);
      }
    }
    encodeBlock(span.outDtype, s.accBits, out, start, n);
  }
}
