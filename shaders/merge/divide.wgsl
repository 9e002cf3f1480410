// Correctly rounded f32 division (IEEE 754, round to nearest even), on the bits. WGSL's `/` is only
// accurate to 2.5 ulp, and the merge methods whose CPU twin divides (Math.fround(a / b): a quotient of
// two f32 values computed in f64 and rounded once is the correctly rounded f32 quotient) must give the
// same bits: a normalised vector (the SLERP family's statistics), model_stock's average, nearswap's
// weight, ram's overlap average. The significands are divided by long division in u32 (25 quotient
// bits and a sticky bit), so no float operation is involved and no subnormal is flushed.
// src/merge/gpu/wgslModules.ts includes this file for the kernels that divide; test/merge/gpu/divide.test.ts holds
// it to Math.fround(a / b) on every class of operand.

// The normalised significand (hidden bit at bit 23) and unbiased-plus-127 exponent of a finite non-zero magnitude.
struct Significand {
  m: u32,
  e: i32,
}

fn significandOf(magnitude: u32) -> Significand {
  let e = magnitude >> 23u;
  if (e == 0u) {
    // Subnormal: shift the highest set bit up to bit 23.
    let s = countLeadingZeros(magnitude) - 8u;
    return Significand(magnitude << s, 1 - i32(s));
  }
  return Significand((magnitude & 0x7fffffu) | 0x800000u, i32(e));
}

fn divideBits(a: u32, b: u32) -> u32 {
  let sign = (a ^ b) & 0x80000000u;
  let ma = a & 0x7fffffffu;
  let mb = b & 0x7fffffffu;
  let inf = 0x7f800000u;
  if (ma > inf || mb > inf || (ma == inf && mb == inf) || (ma == 0u && mb == 0u)) {
    return 0x7fc00000u;
  }
  if (ma == inf || mb == 0u) {
    return sign | inf;
  }
  if (mb == inf || ma == 0u) {
    return sign;
  }
  let x = significandOf(ma);
  let y = significandOf(mb);
  // The quotient x.m / y.m is in (1/2, 2): bring it into [1, 2) and set the exponent.
  var r = x.m;
  var e = x.e - y.e + 127;
  if (r < y.m) {
    r = r << 1u;
    e = e - 1;
  }
  // 25 quotient bits: the 24-bit significand and the rounding bit; what remains is the sticky bit.
  var q = 0u;
  for (var i = 0u; i < 25u; i++) {
    q = q << 1u;
    if (r >= y.m) {
      r = r - y.m;
      q = q | 1u;
    }
    r = r << 1u;
  }
  var sticky = r != 0u;
  if (e >= 255) {
    return sign | inf;
  }
  // The value is q·2^(e − 151). A normal result (e ≥ 1) keeps q >> 1 (the hidden bit lands in the
  // exponent field: the encoding is (e − 1)·2²³ + (q >> 1)); a subnormal one keeps q >> (2 − e).
  var shift = 1u;
  var biased = u32(max(e, 1) - 1) << 23u;
  if (e <= 0) {
    if (e < -23) {
      return sign; // below half the smallest subnormal
    }
    shift = u32(2 - e);
    biased = 0u;
  }
  let kept = q >> shift;
  let roundBit = (q >> (shift - 1u)) & 1u;
  sticky = sticky || (q & ((1u << (shift - 1u)) - 1u)) != 0u;
  let up = roundBit == 1u && (sticky || (kept & 1u) == 1u);
  // A carry of the rounding runs into the exponent, up to Inf: right in IEEE 754.
  return sign | (biased + kept + select(0u, 1u, up));
}

fn divide(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let x = bitcast<vec4<u32>>(a);
  let y = bitcast<vec4<u32>>(b);
  return bitcast<vec4<f32>>(vec4<u32>(divideBits(x.x, y.x), divideBits(x.y, y.y), divideBits(x.z, y.z), divideBits(x.w, y.w)));
}
