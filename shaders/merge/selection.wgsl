// Selections in the element kernels (taskArithmetic.wgsl, methodElements.wgsl; src/merge/gpu/wgslModules.ts
// includes this file for them): the tensor index of an element and the stable boundary of
// src/merge/program/select.ts — below iff key < value, or key = value and index < cut. The kernel's
// Params has offsetLo, offsetHi: the tensor index of the dispatch's first element, 64-bit.

// Tensor indices of four elements of block v: the even ones (odd = 0) or the odd ones (odd = 1).
struct Index {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn indexOf(v: u32, odd: u32) -> Index {
  let local = vec4<u32>(8u * v + odd) + vec4<u32>(0u, 2u, 4u, 6u);
  let lo = local + vec4<u32>(params.offsetLo);
  let carry = select(vec4<u32>(0u), vec4<u32>(1u), lo < local);
  return Index(lo, vec4<u32>(params.offsetHi) + carry);
}

// The order key of |d| (src/merge/program/select.ts keyBits): the f32 bits of |d|, every NaN one key above +Inf.
fn keyBits(d: vec4<f32>) -> vec4<u32> {
  let m = bitcast<vec4<u32>>(d) & vec4<u32>(0x7fffffffu);
  return select(m, vec4<u32>(0x7fc00000u), m > vec4<u32>(0x7f800000u));
}

// Among the selected smallest: key < value, or key = value and index < cut (64-bit).
fn isBelow(keys: vec4<u32>, at: Index, sel: vec4<u32>) -> vec4<bool> {
  let cutLo = vec4<u32>(sel.y);
  let cutHi = vec4<u32>(sel.z);
  let beforeCut = (at.hi < cutHi) | ((at.hi == cutHi) & (at.lo < cutLo));
  let value = vec4<u32>(sel.x);
  return (keys < value) | ((keys == value) & beforeCut);
}

