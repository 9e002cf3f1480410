// Stores of 8-element blocks to a kernel's `dst` binding (array<vec4<u32>>, declared by the kernel),
// with the one rounding to the output dtype (shaders/blocks.wgsl's encoders). For the kernels that
// write merged tensors; src/gpu/wgslModules.ts includes this file for them.

// Block `at` of the output (an F32 output's block is dst[2 at], dst[2 at + 1]).

fn storeBf16(at: u32, acc: Block) {
  dst[at] = f32BitsToBf16(bitcast<vec4<u32>>(acc.lo)) | (f32BitsToBf16(bitcast<vec4<u32>>(acc.hi)) << vec4<u32>(16u));
}

fn storeF16(at: u32, acc: Block) {
  dst[at] = f32BitsToF16(bitcast<vec4<u32>>(acc.lo)) | (f32BitsToF16(bitcast<vec4<u32>>(acc.hi)) << vec4<u32>(16u));
}

fn storeF32(at: u32, acc: Block) {
  let lo = f32BitsCanonical(bitcast<vec4<u32>>(acc.lo));
  let hi = f32BitsCanonical(bitcast<vec4<u32>>(acc.hi));
  dst[2u * at] = vec4<u32>(lo.x, hi.x, lo.y, hi.y);
  dst[2u * at + 1u] = vec4<u32>(lo.z, hi.z, lo.w, hi.w);
}
