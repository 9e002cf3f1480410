// What every kernel in shaders/ shares (src/merge/gpu/wgslModules.ts puts this file before the kernel's own):
// blocks of 8 elements, their loads from the kernel's `src` binding (array<vec4<u32>>, declared by
// the kernel), and the bit-level conversions between f32 and the 16-bit float formats, four values
// at a time — the WGSL twin of src/formats/floatCodecs.ts. No f16 type, no pack2x16float (whose
// subnormal and NaN handling varies), and NaN is recognised on the bits.

// 8 consecutive elements: lo[j] is element 2j, hi[j] element 2j + 1 (the two halves of word j of a
// 16-bit block).
struct Block {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

// Decoding and encoding work on four values at a time and without branches: every case is computed
// and `select` keeps the right one (a discarded case may shift by 32 or more, which WGSL defines as
// a shift modulo 32, or wrap around: harmless). Per-element branches cost divergence on a GPU and run
// every path under a mask on SwiftShader, which made F16 7× slower than BF16.

fn f16BitsToF32(h: vec4<u32>) -> vec4<f32> {
  let sign = (h & vec4<u32>(0x8000u)) << vec4<u32>(16u);
  let em = h & vec4<u32>(0x7fffu);
  // Normal, Inf and NaN: rebias the exponent by 127 − 15 (twice for Inf/NaN, to reach 255).
  let rebias = select(vec4<u32>(112u << 23u), vec4<u32>(224u << 23u), em >= vec4<u32>(0x7c00u));
  let normal = (em << vec4<u32>(13u)) + rebias;
  // Subnormal: m·2⁻²⁴. The integer m (< 2¹⁰) converts to f32 exactly and as a normal number, and
  // lowering its exponent by 24 on the bits stays normal: no float operation sees a subnormal.
  let subnormal = select(bitcast<vec4<u32>>(vec4<f32>(em)) - vec4<u32>(24u << 23u), vec4<u32>(0u), em == vec4<u32>(0u));
  return bitcast<vec4<f32>>(sign | select(normal, subnormal, em < vec4<u32>(0x400u)));
}

// Four at a time and without a branch: a NaN's sum may wrap around, and is discarded.
fn f32BitsToBf16(u: vec4<u32>) -> vec4<u32> {
  let rounded = (u + vec4<u32>(0x7fffu) + ((u >> vec4<u32>(16u)) & vec4<u32>(1u))) >> vec4<u32>(16u);
  return select(rounded, vec4<u32>(0x7fc0u), (u & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}

fn f32BitsToF16(u: vec4<u32>) -> vec4<u32> {
  let sign = (u >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
  let e = (u >> vec4<u32>(23u)) & vec4<u32>(0xffu);
  let mant = u & vec4<u32>(0x7fffffu);
  let one = vec4<u32>(1u);
  // Inf or NaN (canonical), and overflow to Inf.
  let special = select(sign | vec4<u32>(0x7c00u), vec4<u32>(0x7e00u), mant != vec4<u32>(0u));
  let overflow = sign | vec4<u32>(0x7c00u);
  // Normal f16 (e > 112): a carry of the rounding into the exponent is right, up to Inf.
  let h = ((e - vec4<u32>(112u)) << vec4<u32>(10u)) | (mant >> vec4<u32>(13u));
  let rem = mant & vec4<u32>(0x1fffu);
  let up = (rem > vec4<u32>(0x1000u)) | ((rem == vec4<u32>(0x1000u)) & ((h & one) != vec4<u32>(0u)));
  let normal = sign | (h + select(vec4<u32>(0u), one, up));
  // Subnormal f16 or zero (e ≤ 112): shift the full significand right, round to nearest even.
  let shift = vec4<u32>(126u) - e;
  let full = mant | vec4<u32>(0x800000u);
  let sm = full >> shift;
  let srem = full & ((one << shift) - one);
  let halfway = one << (shift - one);
  let sup = (srem > halfway) | ((srem == halfway) & ((sm & one) != vec4<u32>(0u)));
  let subnormal = select(sign | (sm + select(vec4<u32>(0u), one, sup)), sign, shift > vec4<u32>(24u));
  let finite = select(subnormal, select(normal, overflow, e >= vec4<u32>(143u)), e > vec4<u32>(112u));
  return select(finite, special, e == vec4<u32>(0xffu));
}

fn f32BitsCanonical(u: vec4<u32>) -> vec4<u32> {
  return select(u, vec4<u32>(0x7fc00000u), (u & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}

// ---- Loads: `at` is the index in `src` of the input's block (an F32 input's block is src[at], src[at + 1]).

fn loadBf16(at: u32) -> Block {
  let w = src[at];
  return Block(bitcast<vec4<f32>>(w << vec4<u32>(16u)), bitcast<vec4<f32>>(w & vec4<u32>(0xffff0000u)));
}

fn loadF16(at: u32) -> Block {
  let w = src[at];
  return Block(f16BitsToF32(w & vec4<u32>(0xffffu)), f16BitsToF32(w >> vec4<u32>(16u)));
}

fn loadF32(at: u32) -> Block {
  let a = bitcast<vec4<f32>>(src[at]);
  let b = bitcast<vec4<f32>>(src[at + 1u]);
  return Block(vec4<f32>(a.x, a.z, b.x, b.z), vec4<f32>(a.y, a.w, b.y, b.w));
}
