/**
 * The soup of an F64 output, computed in f64. The backends (CPU workers, WGSL) compute in f32, which
 * would turn 1e200 into Infinity, 1e-200 into 0 and 0.1 into 0.100000001…; an F64 tensor is rare and
 * small in a checkpoint, so runMerge computes it here, on the host, whatever the backend:
 *
 *   linear: acc = Σ cᵢ·xᵢ            delta: acc = b + Σ cᵢ·(xᵢ − b)     (b = inputs[0], c₀ unused)
 *
 * in f64 with the plan's unrounded coefficients, in input order; inputs of any float dtype are
 * decoded exactly; a NaN becomes the canonical quiet NaN 0x7ff8000000000000.
 */
import { decodeToF32, FLOAT_BYTES } from '../formats/floatArrays';
import type { FloatDtype } from '../formats/dtype';
import type { SoupMode } from './kernel';

export interface F64SoupInput {
  dtype: FloatDtype;
  /** count × the dtype's width bytes, little-endian; the view may start anywhere. */
  bytes: Uint8Array;
}

function decodeToF64(input: F64SoupInput, count: number): Float64Array {
  if (input.bytes.length !== count * FLOAT_BYTES[input.dtype]) {
    throw new RangeError(`${input.bytes.length} bytes of ${input.dtype} for ${count} elements`);
  }
  if (input.dtype === 'F64') {
    const b = input.bytes.byteOffset % 8 === 0 ? input.bytes : input.bytes.slice();
    return new Float64Array(b.buffer, b.byteOffset, count);
  }
  return Float64Array.from(decodeToF32(input.dtype, input.bytes));
}

/** Little-endian F64 bytes of the soup of `count` elements. */
export function soupF64(mode: SoupMode, coefficients: Float64Array, inputs: F64SoupInput[], count: number): Uint8Array {
  const xs = inputs.map((x) => decodeToF64(x, count));
  const out = new Float64Array(count);
  const bits = new BigUint64Array(out.buffer);
  for (let e = 0; e < count; e++) {
    let acc: number;
    if (mode === 'linear') {
      acc = 0;
      for (let i = 0; i < xs.length; i++) acc += coefficients[i] * xs[i][e];
    } else {
      const b = xs[0][e];
      acc = b;
      for (let i = 1; i < xs.length; i++) acc += coefficients[i] * (xs[i][e] - b);
    }
    if (Number.isNaN(acc)) bits[e] = 0x7ff8000000000000n;
    else out[e] = acc;
  }
  return new Uint8Array(out.buffer);
}
