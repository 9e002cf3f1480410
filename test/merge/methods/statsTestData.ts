/**
 * Test data and independent oracles for the whole-tensor statistics (src/merge/program/tensorStats.ts).
 * The oracles share no code with src/: values are decoded by arithmetic, magnitudes ranked by a stable
 * sort of |d| as torch.argsort does (NaN largest), sums taken in f64.
 */
import type { KernelDtype } from '../../../src/merge/kernel';
import type { TensorChunkSource } from '../../../src/merge/program/tensorStats';
import { makeInput, rng, valueToBf16Bits, valueToF16Bits, type DataOptions } from '../kernelTestData';

const SIZE: Record<KernelDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** A chunk source over whole inputs in memory, counting its reads. */
export function memorySource(dtypes: KernelDtype[], inputs: Uint8Array[]): TensorChunkSource & { reads: number } {
  const elementCount = inputs[0].byteLength / SIZE[dtypes[0]];
  const src = {
    elementCount,
    dtypes,
    reads: 0,
    async read(start: number, count: number) {
      src.reads++;
      return inputs.map((bytes, i) => bytes.slice(start * SIZE[dtypes[i]], (start + count) * SIZE[dtypes[i]]));
    },
  };
  return src;
}

/** Inputs of random values (with `opts` specials), one per dtype. */
export function randomInputs(dtypes: KernelDtype[], count: number, seed: number, opts: DataOptions = {}): Uint8Array[] {
  return dtypes.map((d, i) => makeInput(d, count, seed * 31 + i, opts));
}

/** Inputs whose values come from a few levels only: long runs of equal magnitudes (and of equal deltas). */
export function quantizedInputs(dtypes: KernelDtype[], count: number, seed: number, levels = 7): Uint8Array[] {
  const r = rng(seed);
  return dtypes.map((dtype) => {
    const bytes = new Uint8Array(count * SIZE[dtype]);
    const view = new DataView(bytes.buffer);
    for (let e = 0; e < count; e++) {
      const v = (Math.floor(r() * levels) - (levels >> 1)) * 0.125;
      if (dtype === 'F32') view.setFloat32(e * 4, v, true);
      else view.setUint16(e * 2, dtype === 'BF16' ? valueToBf16Bits(v) : valueToF16Bits(v), true);
    }
    return bytes;
  });
}

function decodeAll(dtype: KernelDtype, bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SIZE[dtype];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (dtype === 'F32') {
      out.push(view.getFloat32(i * 4, true));
      continue;
    }
    const h = view.getUint16(i * 2, true);
    if (dtype === 'BF16') {
      const v = new DataView(new ArrayBuffer(4));
      v.setUint16(2, h, true);
      out.push(v.getFloat32(0, true));
      continue;
    }
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    out.push(exp === 31 ? (mant ? NaN : sign * Infinity) : exp === 0 ? sign * mant * 2 ** -24 : sign * (1024 + mant) * 2 ** (exp - 25));
  }
  return out;
}

/** The f32 vectors dᵢ = xᵢ − base (or xᵢ), by value. */
export function oracleVectors(dtypes: KernelDtype[], inputs: Uint8Array[], base: number | undefined): number[][] {
  const x = inputs.map((b, i) => decodeAll(dtypes[i], b));
  return x.filter((_, i) => i !== base).map((xi) => (base === undefined ? xi : xi.map((v, e) => Math.fround(v - x[base][e]))));
}

/** The indices torch.argsort(|d|, descending / ascending, stable=True)[:count] selects. */
export function oracleSelection(d: number[], order: 'largest' | 'smallest', count: number): Set<number> {
  const mag = d.map((v) => (Number.isNaN(v) ? Infinity * 2 : Math.abs(v))); // NaN as the largest (∞·2 is ∞: see rank)
  const rank = (i: number): number => (Number.isNaN(d[i]) ? 2 : Number.isFinite(mag[i]) ? 0 : 1); // finite < ∞ < NaN
  const idx = d.map((_, i) => i);
  idx.sort((a, b) => {
    const byClass = rank(a) - rank(b);
    const byValue = byClass !== 0 ? byClass : rank(a) === 0 ? mag[a] - mag[b] : 0;
    const c = order === 'largest' ? -byValue : byValue;
    return c !== 0 ? c : a - b;
  });
  return new Set(idx.slice(0, count));
}

/**
 * `bytes` with every subnormal replaced by the smallest normal of its sign: for comparisons with a GPU,
 * which may flush subnormal f32 values to zero (WGSL allows it; SwiftShader does).
 */
export function withoutSubnormals(dtype: KernelDtype, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const n = out.byteLength / SIZE[dtype];
  for (let i = 0; i < n; i++) {
    if (dtype === 'F32') {
      const u = view.getUint32(i * 4, true);
      if ((u & 0x7f800000) === 0 && (u & 0x7fffff) !== 0) view.setUint32(i * 4, ((u & 0x80000000) | 0x00800000) >>> 0, true);
    } else {
      const h = view.getUint16(i * 2, true);
      const expMask = dtype === 'BF16' ? 0x7f80 : 0x7c00;
      const normalMin = dtype === 'BF16' ? 0x0080 : 0x0400;
      if ((h & expMask) === 0 && (h & 0x7fff) !== 0) view.setUint16(i * 2, (h & 0x8000) | normalMin, true);
    }
  }
  return out;
}

/** The elements of line l of each input (element k at l·lineStride + k·elementStride), as inputs of their own. */
export function lineInputs(dtypes: KernelDtype[], inputs: Uint8Array[], lines: { length: number; lineStride: number; elementStride: number }, l: number): Uint8Array[] {
  return inputs.map((bytes, i) => {
    const size = SIZE[dtypes[i]];
    const out = new Uint8Array(lines.length * size);
    for (let k = 0; k < lines.length; k++) {
      const at = (l * lines.lineStride + k * lines.elementStride) * size;
      out.set(bytes.subarray(at, at + size), k * size);
    }
    return out;
  });
}
