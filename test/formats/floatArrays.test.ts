import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeToF32, encodeFromF32 } from '../../src/formats/floatArrays';
import { bf16ToF32Bits, f16ToF32Bits, f32BitsToBf16, f32BitsToF16 } from '../../src/formats/floatCodecs';

const special = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-40, -1e-45, 3.4e38, 65504, 65520, 6e-8, 2 ** -24, 2 ** -25, 1 / 3];

function bitsOf(values: Float32Array): number[] {
  return [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
}

/** `bytes` copied to an odd offset inside a larger buffer: views there cannot be typed arrays. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const host = new Uint8Array(bytes.length + 3);
  host.set(bytes, 1);
  return host.subarray(1, 1 + bytes.length);
}

describe('bulk float codecs agree bit for bit with the scalar definitions', () => {
  const f32Arrays = fc.array(fc.float({ noDefaultInfinity: false, noNaN: false }), { maxLength: 200 }).map((a) => new Float32Array([...a, ...special]));

  it('BF16 and F16 encode with round-to-nearest-even, NaN canonical, and decode exactly', () => {
    fc.assert(
      fc.property(f32Arrays, (values) => {
        const bits = bitsOf(values);
        const bf = encodeFromF32('BF16', values);
        const f16 = encodeFromF32('F16', values);
        const bfHalves = [...new Uint16Array(bf.buffer)];
        const f16Halves = [...new Uint16Array(f16.buffer)];
        expect(bfHalves).toEqual(bits.map(f32BitsToBf16));
        expect(f16Halves).toEqual(bits.map(f32BitsToF16));
        expect(bitsOf(decodeToF32('BF16', unaligned(bf)))).toEqual(bfHalves.map(bf16ToF32Bits));
        expect(bitsOf(decodeToF32('F16', unaligned(f16)))).toEqual(f16Halves.map(f16ToF32Bits));
      }),
    );
  });

  it('F32 round-trips every bit pattern, NaN payloads included', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 100 }), (words) => {
        const bytes = new Uint8Array(new Uint32Array(words).buffer);
        const decoded = decodeToF32('F32', unaligned(bytes));
        expect(bitsOf(decoded)).toEqual(words);
        expect([...encodeFromF32('F32', decoded)]).toEqual([...bytes]);
      }),
    );
  });

  it('F64 rounds to nearest even f32 and encodes exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 100 }), (doubles) => {
        const bytes = new Uint8Array(new Float64Array(doubles).buffer);
        const decoded = decodeToF32('F64', unaligned(bytes));
        decoded.forEach((v, i) => expect(Object.is(v, Math.fround(doubles[i]))).toBe(true));
        const back = new Float64Array(encodeFromF32('F64', decoded).buffer);
        back.forEach((v, i) => expect(Object.is(v, decoded[i])).toBe(true));
      }),
    );
  });

  it('keeps ±0, ±Inf, NaN and subnormals through every dtype', () => {
    const values = new Float32Array([0, -0, Infinity, -Infinity, NaN, 2 ** -130, -(2 ** -133), 2 ** -24]);
    for (const dtype of ['F64', 'F32', 'F16', 'BF16'] as const) {
      const back = decodeToF32(dtype, encodeFromF32(dtype, values));
      expect(Object.is(back[0], 0) && Object.is(back[1], -0)).toBe(true);
      expect([back[2], back[3]]).toEqual([Infinity, -Infinity]);
      expect(Number.isNaN(back[4])).toBe(true);
      if (dtype !== 'F16') expect([back[5], back[6]]).toEqual([2 ** -130, -(2 ** -133)]); // bf16 and f32 subnormals
      else expect(back[7]).toBe(2 ** -24); // the smallest f16 subnormal
    }
    expect([...new Uint16Array(encodeFromF32('BF16', new Float32Array([NaN, -NaN])).buffer)]).toEqual([0x7fc0, 0x7fc0]);
    expect(new Uint16Array(encodeFromF32('F16', new Float32Array([NaN])).buffer)[0] & 0x7e00).toBe(0x7e00);
  });

  it('writes into a given output, including at an odd byte offset, and rejects partial elements', () => {
    const values = new Float32Array([1.5, -2.25, 3]);
    const host = new Uint8Array(9);
    const out = encodeFromF32('BF16', values, host.subarray(1, 7));
    expect(out.byteOffset).toBe(1);
    expect([...decodeToF32('BF16', out)]).toEqual([1.5, -2.25, 3]);
    const into = new Float32Array(5);
    expect(decodeToF32('BF16', out, into).length).toBe(3);
    expect([...into.subarray(0, 3)]).toEqual([1.5, -2.25, 3]);
    expect(() => decodeToF32('F32', new Uint8Array(6))).toThrow(RangeError);
    expect(() => encodeFromF32('F32', values, new Uint8Array(11))).toThrow(RangeError);
  });
});
