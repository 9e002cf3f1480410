// Elementwise model soup: out = round(Σ cᵢ·xᵢ)  (linear)  or  round(b + Σ cᵢ·(xᵢ − b))  (delta, b = input 0).
//
// The arithmetic is the one of src/merge/kernel.ts: f32 accumulation in input order, every operation
// rounded to f32, one round-to-nearest-even to the output dtype. Inputs (F32, F16 or BF16, mixed) are
// packed one after another in `src`, each padded to a whole number of `params.blockCount` blocks of
// 16 bytes (one block of a 16-bit input, two of an F32 one); each invocation handles one block of
// 8 consecutive elements of every input (coalesced 128-bit loads, enough work per invocation), so the
// host pads the element count to a multiple of 8. Decoding and encoding work on integer bits: no f16
// type, no pack2x16float (whose subnormal and NaN handling varies), and NaN is recognised on the bits.
//
// This file is completed per job shape by src/merge/gpu/soupShader.ts, which appends the entry point `main`
// and the constant COEFFICIENT_VEC4S: a straight-line sequence of the calls below, one per input with
// its dtype and position fixed, so that there is no loop over inputs, no per-input descriptor read and
// no dtype branch at run time (the pipelines are cached per shape). All arithmetic lives here.
//
// Two things only the hardware may change: subnormal f32 values may be flushed to zero by the float
// units, and `acc + c·x` might be contracted into a fused multiply-add by a backend compiler. The
// product is passed through an integer XOR with a zero the compiler cannot see (`params.zeroBits`),
// which makes a contraction impossible; the accumulator starts from that same opaque zero so that
// `0 + x` is not folded into `x` (which would keep −0). What remains is flush-to-zero of subnormals;
// the tests allow 1 ulp of the output dtype and require ≥ 99.9 % of elements identical.

struct Params {
  blockCount: u32,     // blocks of 8 elements in this dispatch (= blocks per 16-bit input)
  zeroBits: u32,       // always 0; opaque to the compiler (see above)
  blocksPerRow: u32,   // invocations per row of the dispatch grid (workgroup counts > 65535 fold into y)
  unused: u32,
  coefficients: array<vec4<f32>, COEFFICIENT_VEC4S>,  // cᵢ = coefficients[i / 4][i % 4]
}

// Block, the loads (loadBf16, loadF16, loadF32) and the decode and encode functions are in
// shaders/merge/blocks.wgsl; the bindings, blockIndex, opaque and the stores in shaders/merge/stores.wgsl:
// src/merge/gpu/wgslModules.ts puts them before this file.

// ---- Arithmetic, element by element.

fn coefficient(i: u32) -> f32 {
  return params.coefficients[i / 4u][i % 4u];
}

// The opaque zero, as the start of a linear accumulation.
fn zeroBlock() -> Block {
  let zero = vec4<f32>(bitcast<f32>(params.zeroBits));
  return Block(zero, zero);
}

// acc + c·x, the product rounded to f32 and made opaque so it cannot be fused with the addition.
fn addScaled(acc: Block, c: f32, x: Block) -> Block {
  return Block(acc.lo + opaque(c * x.lo), acc.hi + opaque(c * x.hi));
}

fn minus(x: Block, b: Block) -> Block {
  return Block(x.lo - b.lo, x.hi - b.hi);
}

