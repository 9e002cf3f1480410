// What the kernels that write merged tensors share (soup.wgsl, taskArithmetic.wgsl, methodElements.wgsl;
// src/merge/gpu/wgslModules.ts includes this file for them): their bindings — the kernel declares `struct
// Params`, whose first words are blockCount, zeroBits (always 0), blocksPerRow —, the invocation's
// block, the opaque products, and the stores of 8-element blocks to `dst` with the one rounding to the
// output dtype (shaders/merge/blocks.wgsl's encoders).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

// The block this invocation handles, or blockCount and beyond for the padding of the last workgroup.
fn blockIndex(gid: vec3<u32>) -> u32 {
  return gid.y * params.blocksPerRow + gid.x;
}

// v made opaque to the compiler (XOR with the uniform zero): a product passed through it is rounded
// to f32 and cannot be fused with the addition that follows.
fn opaque(v: vec4<f32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) ^ vec4<u32>(params.zeroBits));
}

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
