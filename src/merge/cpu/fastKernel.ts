/**
 * The soup arithmetic of kernel.ts, fast: blocks of a few thousand elements that stay in cache, tight
 * loops over typed arrays, bf16 decoded by a shift into an aliased Uint32Array, f16 by a 64 Ki-entry
 * table, products and sums rounded to f32 by Math.fround / Float32Array stores. Bit-exact to
 * runSoupJobReference (tested); runs in worker threads, web workers and in-thread. Where the platform
 * has WebAssembly SIMD, jobs go to the SIMD kernel (simdKernel.ts) instead; these loops remain the
 * fallback and are tested on their own.
 */
import { f16ToF32Bits } from '../../formats/floatCodecs';
import type { KernelDtype, SoupSpan } from '../kernel';
import { KERNEL_DTYPE_BYTES } from '../kernel';
import { computeSoupSpanInArena, computeSoupSpanSimd, simdApplies, simdArenaBound, type ArenaAddresses } from './simdKernel';

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
  // One spare element: word loops over an odd block also compute the padding element.
  readonly acc = new Float32Array(BLOCK + 2);
  readonly accBits = new Uint32Array(this.acc.buffer);
  readonly x = new Float32Array(BLOCK + 2);
  readonly xBits = new Uint32Array(this.x.buffer);
  readonly base = new Float32Array(BLOCK + 2);
  readonly baseBits = new Uint32Array(this.base.buffer);
  /** Aligned landing place for input bytes whose view is not aligned to its element size. */
  readonly raw = new Uint8Array(BLOCK * 4 + 8);
  readonly rawU16 = new Uint16Array(this.raw.buffer);
  readonly rawF32 = new Float32Array(this.raw.buffer);
  readonly rawU32 = new Uint32Array(this.raw.buffer);
}

let scratch: Scratch | undefined;

/**
 * The words holding elements [start, start + n) of a 16-bit input, two elements per word (low half
 * first): a view when aligned and n is even, else a copy into the aligned, zero-padded scratch.
 */
function wordsOf(bytes: Uint8Array, start: number, n: number, s: Scratch): Uint32Array {
  const byteStart = bytes.byteOffset + start * 2;
  if (byteStart % 4 === 0 && n % 2 === 0) return new Uint32Array(bytes.buffer, byteStart, n / 2);
  s.raw.set(bytes.subarray(start * 2, (start + n) * 2));
  if (n % 2 === 1) s.raw[n * 2] = s.raw[n * 2 + 1] = 0;
  return s.rawU32;
}

/** Elements [start, start + n) of an F32 input as an aligned view (or an aligned copy). */
function f32Of(bytes: Uint8Array, start: number, n: number, s: Scratch): Float32Array {
  const byteStart = bytes.byteOffset + start * 4;
  if (byteStart % 4 === 0) return new Float32Array(bytes.buffer, byteStart, n);
  s.raw.set(bytes.subarray(start * 4, (start + n) * 4));
  return s.rawF32;
}

/** Decodes an F16 block into x through the table. */
function decodeF16(w: Uint32Array, n: number, x: Float32Array): void {
  const table = f16ToF32Table();
  const pairs = n >> 1;
  for (let k = 0; k < pairs; k++) {
    const v = w[k];
    x[2 * k] = table[v & 0xffff];
    x[2 * k + 1] = table[v >>> 16];
  }
  if (n & 1) x[n - 1] = table[w[pairs] & 0xffff];
}

/** Decodes a BF16 block into x (bits aliases x). */
function decodeBf16(w: Uint32Array, n: number, bits: Uint32Array): void {
  const words = (n + 1) >> 1;
  for (let k = 0; k < words; k++) {
    const v = w[k];
    bits[2 * k] = v << 16;
    bits[2 * k + 1] = v & 0xffff0000;
  }
}

// BF16 fused decode-and-accumulate: the hottest loops. One word = two elements; the pair is decoded
// through the two-element aliased scratch `p`/`pBits` (the only bit cast JavaScript has).
const pair = new Float32Array(2);
const pairBits = new Uint32Array(pair.buffer);

/** acc[j] = f32(c·x[j]) + 0 — the first linear term: 0 + (−0) is +0, as the definition says. */
function bf16LinearFirst(acc: Float32Array, w: Uint32Array, c: number, n: number): void {
  const fr = Math.fround;
  const p = pair;
  const pb = pairBits;
  const words = (n + 1) >> 1; // acc has room for the padding element of an odd block
  for (let k = 0; k < words; k++) {
    const v = w[k];
    pb[0] = v << 16;
    pb[1] = v & 0xffff0000;
    acc[2 * k] = fr(c * p[0]) + 0;
    acc[2 * k + 1] = fr(c * p[1]) + 0;
  }
}

function bf16LinearAdd(acc: Float32Array, w: Uint32Array, c: number, n: number): void {
  const fr = Math.fround;
  const p = pair;
  const pb = pairBits;
  const words = (n + 1) >> 1;
  for (let k = 0; k < words; k++) {
    const v = w[k];
    pb[0] = v << 16;
    pb[1] = v & 0xffff0000;
    acc[2 * k] += fr(c * p[0]);
    acc[2 * k + 1] += fr(c * p[1]);
  }
}

function bf16DeltaAdd(acc: Float32Array, w: Uint32Array, b: Float32Array, c: number, n: number): void {
  const fr = Math.fround;
  const p = pair;
  const pb = pairBits;
  const words = (n + 1) >> 1;
  for (let k = 0; k < words; k++) {
    const v = w[k];
    pb[0] = v << 16;
    pb[1] = v & 0xffff0000;
    acc[2 * k] += fr(c * fr(p[0] - b[2 * k]));
    acc[2 * k + 1] += fr(c * fr(p[1] - b[2 * k + 1]));
  }
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
/**
 * computeSoupSpan on views that lie in a shared arena bound to this thread (at: their addresses there):
 * the SIMD kernel then works on them in place; elsewhere, or without `at`, as computeSoupSpan.
 */
export function computeSoupSpanAt(span: SoupSpan, out: Uint8Array, at: ArenaAddresses | undefined): void {
  if (at && simdArenaBound(at.arena)) computeSoupSpanInArena(span, at, out, (accBits, o, start, n) => encodeBlock('F16', accBits, o, start, n));
  else computeSoupSpan(span, out);
}

export function computeSoupSpan(span: SoupSpan, out: Uint8Array, opts: { simd?: boolean } = {}): void {
  if (opts.simd !== false && simdApplies(span)) {
    computeSoupSpanSimd(span, out, (accBits, o, start, n) => encodeBlock('F16', accBits, o, start, n));
    return;
  }
  const s = (scratch ??= new Scratch());
  const { inputs, coefficients: c, count } = span;
  const outSize = KERNEL_DTYPE_BYTES[span.outDtype];
  if ((out.byteOffset % outSize) !== 0) throw new Error('computeSoupSpan: output view not aligned');
  for (let start = 0; start < count; start += BLOCK) {
    const n = Math.min(BLOCK, count - start);
    const acc = s.acc;
    if (span.mode === 'linear') {
      for (let i = 0; i < inputs.length; i++) {
        const { dtype, bytes } = inputs[i];
        if (dtype === 'BF16') {
          const w = wordsOf(bytes, start, n, s);
          if (i === 0) bf16LinearFirst(acc, w, c[0], n);
          else bf16LinearAdd(acc, w, c[i], n);
          continue;
        }
        let x: Float32Array;
        if (dtype === 'F32') x = f32Of(bytes, start, n, s);
        else decodeF16(wordsOf(bytes, start, n, s), n, (x = s.x));
        if (i === 0) linearFirst(acc, x, c[0], n);
        else linearAdd(acc, x, c[i], n);
      }
    } else {
      const base = s.base;
      const b0 = inputs[0];
      if (b0.dtype === 'F32') base.set(f32Of(b0.bytes, start, n, s).subarray(0, n));
      else if (b0.dtype === 'BF16') decodeBf16(wordsOf(b0.bytes, start, n, s), n, s.baseBits);
      else decodeF16(wordsOf(b0.bytes, start, n, s), n, base);
      acc.set(base.subarray(0, n));
      for (let i = 1; i < inputs.length; i++) {
        const { dtype, bytes } = inputs[i];
        if (dtype === 'BF16') {
          bf16DeltaAdd(acc, wordsOf(bytes, start, n, s), base, c[i], n);
          continue;
        }
        let x: Float32Array;
        if (dtype === 'F32') x = f32Of(bytes, start, n, s);
        else decodeF16(wordsOf(bytes, start, n, s), n, (x = s.x));
        deltaAdd(acc, x, base, c[i], n);
      }
    }
    encodeBlock(span.outDtype, s.accBits, out, start, n);
  }
}
