// Workgroup reductions of the one-workgroup-per-row kernels (rmsnorm.wgsl, logits.wgsl), without
// subgroups: the variant every adapter runs (src/model/gpu/modelShaders.ts appends it; reduceSubgroups.wgsl
// is the other). Workgroups are 64 invocations. Each reduction: one barrier, then every invocation
// combines the 64 partial values itself, in index order (so every invocation gets the same result, and
// ties of the argmax go to the smallest index). Software adapters (SwiftShader) pay per barrier, so a
// tree of barriers costs more than these reads.

// The workgroup id stays a separate entry-point parameter: WGSL's uniformity analysis treats a struct
// parameter as a whole as non-uniform, and barriers must follow uniform control flow.
struct Invocation {
  @builtin(local_invocation_id) lid: vec3<u32>,
}

fn workgroupSum(inv: Invocation, value: f32) -> f32 {
  partialSum[inv.lid.x] = value;
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < REDUCE_WG; i++) {
    total = total + partialSum[i];
  }
  return total;
}

// The largest value over the workgroup and its index (the smallest index on ties); candidates with
// index NO_INDEX are empty. Returns (value bits, index).
fn workgroupMaxAt(inv: Invocation, value: f32, at: u32) -> vec2<u32> {
  partialMax[inv.lid.x] = value;
  partialAt[inv.lid.x] = at;
  workgroupBarrier();
  var best = -3.4e38;
  var bestAt = NO_INDEX;
  for (var i = 0u; i < REDUCE_WG; i++) {
    let a = partialAt[i];
    if (a != NO_INDEX && (bestAt == NO_INDEX || partialMax[i] > best || (partialMax[i] == best && a < bestAt))) {
      best = partialMax[i];
      bestAt = a;
    }
  }
  return vec2<u32>(bitcast<u32>(best), bestAt);
}
