/**
 * ggml's Q8_0: blocks of 32 values along a row, each stored as an f16 scale d = max|x| / 127 and 32 int8
 * q = round(x / d) (half away from zero). Bit for bit what gguf-py's quants.Q8_0 (and ggml's
 * quantize_row_q8_0_ref) compute: the scale and the products in f32, the scale rounded to f16 last.
 */
import { f32BitsToF16, f32ToBits } from '../../formats/floatCodecs';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Bytes of `numel` values as Q8_0 (numel a multiple of 32). */
export function q8_0ByteLength(numel: number): number {
  return (numel / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${values.length}`);
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let blk = 0; blk < blocks; blk++) {
    const base = blk * Q8_0_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[base + i]));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    const o = blk * Q8_0_BLOCK_BYTES;
    view.setUint16(o, f32BitsToF16(f32ToBits(d)), true);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const x = Math.fround(values[base + i] * id);
      const q = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
      view.setInt8(o + 2 + i, q);
    }
  }
  return out;
}
