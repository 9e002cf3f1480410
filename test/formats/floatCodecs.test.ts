import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bf16ToF32Bits, bitsToF32, f16ToF32Bits, f32BitsToBf16, f32BitsToF16, f32ToBits } from '../../src/formats/floatCodecs';

/** Value of f16 bits computed from the definition, independently of the codec. */
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Every finite non-negative f16, ascending: the reference rounds by searching this table.
const positives = Array.from({ length: 0x7c00 }, (_, h) => f16Value(h));

function referenceF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const maxFinite = positives[0x7bff];
  // Beyond max + half an ulp (2^15 · 2^-11 · … = 65520) rounds to Inf.
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = positives.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (a >= maxFinite) return sign | 0x7bff;
  const dLo = a - positives[lo];
  const dHi = positives[hi] - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

describe('f16 codec', () => {
  it('decodes every f16 bit pattern to its exact value', () => {
    for (let h = 0; h < 0x10000; h++) {
      const got = bitsToF32(f16ToF32Bits(h));
      const want = f16Value(h);
      if (Number.isNaN(want)) expect(Number.isNaN(got)).toBe(true);
      else expect(Object.is(got, want)).toBe(true);
    }
  });

  it('round-trips every non-NaN f16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
      expect(f32BitsToF16(f16ToF32Bits(h))).toBe(h);
    }
  });

  it('rounds random f32 values to nearest even like the reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const x = bitsToF32(bits);
        const got = f32BitsToF16(bits);
        if (Number.isNaN(x)) return (got & 0x7c00) === 0x7c00 && (got & 0x3ff) !== 0;
        return got === referenceF16(x);
      }),
      { numRuns: 200_000 },
    );
  });

  it('rounds exact ties to even and keeps subnormals', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to 1 (even).
    expect(f32BitsToF16(f32ToBits(1 + 2 ** -11))).toBe(0x3c00);
    expect(f32BitsToF16(f32ToBits(1 + 3 * 2 ** -11))).toBe(0x3c02);
    expect(f32BitsToF16(f32ToBits(2 ** -24))).toBe(0x0001);
    expect(f32BitsToF16(f32ToBits(2 ** -25))).toBe(0x0000); // tie with 0: even
    expect(f32BitsToF16(f32ToBits(-(2 ** -25) * 1.5))).toBe(0x8001);
    expect(f32BitsToF16(f32ToBits(65519))).toBe(0x7bff);
    expect(f32BitsToF16(f32ToBits(65520))).toBe(0x7c00);
  });
});

describe('bf16 codec', () => {
  it('is the upper half of f32 with round to nearest even', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const x = bitsToF32(bits);
        const got = f32BitsToBf16(bits);
        if (Number.isNaN(x)) return got === 0x7fc0;
        // Reference: the two bf16 neighbours, picked by distance in double precision.
        const down = bits >>> 16;
        const lower = bitsToF32(bf16ToF32Bits(down));
        // Past the largest finite value, IEEE rounding measures against 2^128 (which then becomes Inf).
        const upper = (down + 1) % 0x8000 === 0x7f80 ? Math.sign(lower) * 2 ** 128 : bitsToF32(bf16ToF32Bits(down + 1));
        if (lower === x) return got === down;
        const dLo = Math.abs(x - lower);
        const dHi = Math.abs(upper - x);
        const want = dLo < dHi ? down : dHi < dLo ? down + 1 : down % 2 === 0 ? down : down + 1;
        return got === want;
      }),
      { numRuns: 200_000 },
    );
  });

  it('keeps ±0, ±Inf and subnormals, and rounds the largest finite values to Inf', () => {
    expect(f32BitsToBf16(0x80000000)).toBe(0x8000);
    expect(f32BitsToBf16(0x7f800000)).toBe(0x7f80);
    expect(f32BitsToBf16(0xff800000)).toBe(0xff80);
    expect(f32BitsToBf16(0x00010000)).toBe(0x0001);
    expect(f32BitsToBf16(0x7f7fffff)).toBe(0x7f80);
    expect(f32BitsToBf16(0x7fc00001)).toBe(0x7fc0);
  });
});
