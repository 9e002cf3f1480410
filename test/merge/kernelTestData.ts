/**
 * Test data and an independent reference for the soup kernels. The reference here shares no code
 * with src/: it decodes and rounds by value arithmetic in f64 (not by bit tricks), and re-derives the
 * f32 accumulation with Math.fround.
 */
import type { KernelDtype, SoupJob } from '../../src/merge/kernel';
import { seededUniform as rng } from '../../src/util/random';
export { rng };

const SIZE: Record<KernelDtype, number> = { F32: 4, F16: 2, BF16: 2 };


function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

/** Bit patterns worth testing, per dtype: NaNs (with payloads and signs), ±Inf, ±0, subnormals, extremes. */
const SPECIALS: Record<KernelDtype, number[]> = {
  F32: [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x00400000, 0x7f7fffff, 0xff7fffff, 0x00800000],
  BF16: [0x7fc0, 0xffc0, 0x7f81, 0x7f80, 0xff80, 0, 0x8000, 1, 0x8001, 0x007f, 0x7f7f, 0xff7f, 0x0080],
  F16: [0x7e00, 0xfe00, 0x7c01, 0x7c00, 0xfc00, 0, 0x8000, 1, 0x8001, 0x03ff, 0x0200, 0x7bff, 0xfbff, 0x0400],
};

export interface DataOptions {
  /** Fraction of elements drawn from SPECIALS. */
  specials?: number;
  /** Fraction of f32 elements whose low 16 bits are exactly 0x8000: bf16 rounding ties. */
  ties?: number;
  scale?: number;
}

/** `count` elements of `dtype` at a byte offset `pad` into their buffer (to exercise unaligned views). */
export function makeInput(dtype: KernelDtype, count: number, seed: number, opts: DataOptions = {}, pad = 0): Uint8Array {
  const r = rng(seed);
  const buf = new Uint8Array(pad + count * SIZE[dtype]);
  const bytes = buf.subarray(pad);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const specials = opts.specials ?? 0;
  const ties = opts.ties ?? 0;
  const scale = opts.scale ?? 0.05;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < count; i++) {
    const p = r();
    let bits: number;
    if (p < specials) {
      const list = SPECIALS[dtype];
      bits = list[Math.floor(r() * list.length)];
    } else {
      f[0] = gaussian(r) * scale;
      bits = u[0];
      if (p < specials + ties) bits = ((bits & 0xffff0000) | 0x8000) >>> 0;
      if (dtype === 'BF16') bits = bits >>> 16; // truncation is fine for making data
      if (dtype === 'F16') bits = valueToF16Bits(f[0]);
    }
    if (dtype === 'F32') view.setUint32(i * 4, bits >>> 0, true);
    else view.setUint16(i * 2, bits, true);
  }
  return bytes;
}

// ---- independent reference ----

function decode(dtype: KernelDtype, view: DataView, i: number): number {
  if (dtype === 'F32') return view.getFloat32(i * 4, true);
  const h = view.getUint16(i * 2, true);
  if (dtype === 'BF16') {
    const v = new DataView(new ArrayBuffer(4));
    v.setUint16(2, h, true); // the bf16 bits are the upper half of an f32
    return v.getFloat32(0, true);
  }
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Exponent e with 2^e ≤ a < 2^(e+1), for finite a > 0. */
function binade(a: number): number {
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/** Rounds |a| to a multiple of 2^q, half to even, exactly in f64 (a/2^q is exact). */
function roundToMultiple(a: number, q: number): number {
  const s = a / 2 ** q;
  let m = Math.floor(s);
  const rest = s - m;
  if (rest > 0.5 || (rest === 0.5 && m % 2 === 1)) m++;
  return m * 2 ** q;
}

export function valueToF16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  const v = roundToMultiple(a, Math.max(binade(a), -14) - 10);
  if (v > 65504) return sign | 0x7c00;
  if (v === 0) return sign;
  const e = binade(v);
  if (e < -14) return sign | (v / 2 ** -24);
  return sign | ((e + 15) << 10) | (v / 2 ** (e - 10) - 1024);
}

/** bf16 has 8 significant bits and f32's exponent range; below 2^-126 its spacing is 2^-133. */
export function valueToBf16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7f80;
  if (a === 0) return sign;
  const v = roundToMultiple(a, Math.max(binade(a), -126) - 7);
  if (v >= 2 ** 128) return sign | 0x7f80;
  if (v === 0) return sign;
  const e = binade(v);
  if (e < -126) return sign | (v / 2 ** -133);
  return sign | ((e + 127) << 7) | (v / 2 ** (e - 7) - 128);
}

/** The soup arithmetic, element by element, sharing nothing with src/. */
export function independentSoup(job: SoupJob): Uint8Array {
  const n = job.elementCount;
  const out = new Uint8Array(n * SIZE[job.outDtype]);
  const ov = new DataView(out.buffer);
  const views = job.inputs.map((x) => new DataView(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength));
  const c = Array.from(job.coefficients);
  const fr = Math.fround;
  for (let e = 0; e < n; e++) {
    let acc: number;
    if (job.mode === 'linear') {
      acc = 0;
      job.inputs.forEach((inp, i) => {
        acc = fr(acc + fr(c[i] * decode(inp.dtype, views[i], e)));
      });
    } else {
      const b = decode(job.inputs[0].dtype, views[0], e);
      acc = b;
      for (let i = 1; i < job.inputs.length; i++) acc = fr(acc + fr(c[i] * fr(decode(job.inputs[i].dtype, views[i], e) - b)));
    }
    if (job.outDtype === 'F32') {
      if (Number.isNaN(acc)) ov.setUint32(e * 4, 0x7fc00000, true);
      else ov.setFloat32(e * 4, acc, true);
    } else {
      ov.setUint16(e * 2, job.outDtype === 'BF16' ? valueToBf16Bits(acc) : valueToF16Bits(acc), true);
    }
  }
  return out;
}

export function makeJob(mode: SoupJob['mode'], dtypes: KernelDtype[], outDtype: KernelDtype, count: number, seed: number, opts: DataOptions = {}, coefficients?: number[]): SoupJob {
  const r = rng(seed * 7919 + 1);
  const coefs = coefficients ?? dtypes.map(() => Math.fround(r() * 1.5 - 0.25));
  return {
    mode,
    coefficients: Float32Array.from(coefs),
    inputs: dtypes.map((dtype, i) => ({ dtype, bytes: makeInput(dtype, count, seed * 31 + i, opts, (seed + i) % 3) })),
    outDtype,
    elementCount: count,
  };
}

/** Index of the first differing element, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array, elementSize: number): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return Math.floor(i / elementSize);
  return -1;
}
