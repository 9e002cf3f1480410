// What both row-reduction variants (reduce.wgsl, reduceSubgroups.wgsl) declare: workgroups of 64, the
// empty index of an argmax candidate, and the workgroup memory the partial results go through.

const REDUCE_WG: u32 = 64u;
const NO_INDEX: u32 = 0xffffffffu;
var<workgroup> partialSum: array<f32, 64>;
var<workgroup> partialMax: array<f32, 64>;
var<workgroup> partialAt: array<u32, 64>;
