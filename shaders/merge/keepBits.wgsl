// DELLA's keep masks in the kernels that apply the task-arithmetic family's masks (src/merge/gpu/wgslModules.ts
// includes this file after shaders/merge/keep.wgsl, and declares `keepBitWords`, the mask words, at the
// binding the kernel gives): one bit per element, computed before by shaders/merge/dellaRanks.wgsl from each
// row's magnitude ranks and its seeded draws. A Model's lower selection words say where its bits are:
// low.x is the index in keepBitWords of its first word, low.y the tensor index (low 32 bits) of that
// word's bit 0. The CPU reading is src/merge/program/keep.ts bitIsSet.

fn keepBits(d: vec4<f32>, at: Index, m: Model) -> vec4<bool> {
  let bit = at.lo - vec4<u32>(m.low.y);
  let word = vec4<u32>(m.low.x) + (bit >> vec4<u32>(5u));
  let w = vec4<u32>(keepBitWords[word.x], keepBitWords[word.y], keepBitWords[word.z], keepBitWords[word.w]);
  return ((w >> (bit & vec4<u32>(31u))) & vec4<u32>(1u)) == vec4<u32>(1u);
}
