import { f16ToF32Bits, f32BitsToBf16, f32BitsToF16 } from './floatCodecs';
import type { FloatDtype } from './dtype';

/** Bytes per element of each float dtype. */
export const FLOAT_BYTES: Record<FloatDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  // safetensors is little-endian; typed arrays use the platform's order (little-endian everywhere we run).
  if (!littleEndian) throw new Error('SoupLab needs a little-endian platform');
}

let f16Table: Uint32Array | undefined;

/** f32 bits for every f16 bit pattern (256 KB, built on first use): decoding is one lookup. */
function f16ToF32Table(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32Bits(h);
  }
  return f16Table;
}

/** A typed view of `bytes` whose start is aligned to `width`, copying when it is not. */
function aligned(bytes: Uint8Array, width: number): { buffer: ArrayBufferLike; offset: number } {
  if (bytes.byteOffset % width === 0) return { buffer: bytes.buffer, offset: bytes.byteOffset };
  const copy = bytes.slice();
  return { buffer: copy.buffer, offset: 0 };
}

function elementCount(dtype: FloatDtype, byteLength: number): number {
  const width = FLOAT_BYTES[dtype];
  if (byteLength % width !== 0) throw new RangeError(`${byteLength} bytes is not a whole number of ${dtype} elements`);
  return byteLength / width;
}

/**
 * Decodes a chunk of little-endian `dtype` values to f32 (F64 rounds to nearest even; F16/BF16 are
 * exact). NaN, ±Inf, ±0 and subnormals are kept. `bytes` may start at any offset.
 */
export function decodeToF32(dtype: FloatDtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  assertLittleEndian();
  const n = elementCount(dtype, bytes.length);
  const result = out ?? new Float32Array(n);
  if (result.length < n) throw new RangeError(`output holds ${result.length} values, need ${n}`);
  const width = FLOAT_BYTES[dtype];
  const { buffer, offset } = aligned(bytes, width);
  const outBits = new Uint32Array(result.buffer, result.byteOffset, n);
  switch (dtype) {
    case 'F32':
      // Copy bits, not numbers: NaN payloads survive.
      outBits.set(new Uint32Array(buffer, offset, n));
      break;
    case 'F64':
      result.set(new Float64Array(buffer, offset, n));
      break;
    case 'BF16': {
      const src = new Uint16Array(buffer, offset, n);
      for (let i = 0; i < n; i++) outBits[i] = src[i] << 16;
      break;
    }
    case 'F16': {
      const src = new Uint16Array(buffer, offset, n);
      const table = f16ToF32Table();
      for (let i = 0; i < n; i++) outBits[i] = table[src[i]];
      break;
    }
  }
  return n === result.length ? result : result.subarray(0, n);
}

/**
 * Encodes f32 values as little-endian `dtype` bytes, rounding to nearest even (F16 overflows to ±Inf,
 * underflows gradually; NaN → 0x7e00 / 0x7fc0). `out`, when given, must hold the whole result.
 */
export function encodeFromF32(dtype: FloatDtype, values: Float32Array, out?: Uint8Array): Uint8Array {
  assertLittleEndian();
  const n = values.length;
  const width = FLOAT_BYTES[dtype];
  const size = n * width;
  const result = out ?? new Uint8Array(size);
  if (result.length < size) throw new RangeError(`output holds ${result.length} bytes, need ${size}`);
  const target = result.byteOffset % width === 0 ? result : new Uint8Array(size);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  switch (dtype) {
    case 'F32':
      new Uint32Array(target.buffer, target.byteOffset, n).set(bits);
      break;
    case 'F64':
      new Float64Array(target.buffer, target.byteOffset, n).set(values);
      break;
    case 'BF16': {
      const dst = new Uint16Array(target.buffer, target.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16(bits[i]);
      break;
    }
    case 'F16': {
      const dst = new Uint16Array(target.buffer, target.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = f32BitsToF16(bits[i]);
      break;
    }
  }
  if (target !== result) result.set(target);
  return size === result.length ? result : result.subarray(0, size);
}

