// The workgroup reductions of reduce.wgsl with the `subgroups` feature (src/model/gpu/modelShaders.ts
// appends this instead and puts `enable subgroups;` first). Same functions, same results up to the
// order of f32 additions. Nothing is assumed of how invocations map to subgroups: every invocation
// writes its value, then lane l of each subgroup reads entries l, l + width, … (all 64 across the
// subgroup's lanes, for a width dividing 64) and a subgroup operation combines them; so every subgroup
// computes the whole workgroup's result with 64 / width reads per invocation instead of 64. A subgroup
// of 64 or more holds the whole workgroup: its own subgroup operation is the result.

// The workgroup id stays a separate entry-point parameter: WGSL's uniformity analysis treats a struct
// parameter as a whole as non-uniform, and barriers must follow uniform control flow.
struct Invocation {
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) width: u32,
}

fn workgroupSum(inv: Invocation, value: f32) -> f32 {
  // Both computed in uniform control flow (subgroup operations and barriers require it); one is used.
  let whole = subgroupAdd(value);
  partialSum[inv.lid.x] = value;
  workgroupBarrier();
  var s = 0.0;
  for (var i = inv.lane; i < REDUCE_WG; i += inv.width) {
    s = s + partialSum[i];
  }
  let strided = subgroupAdd(s);
  return select(strided, whole, inv.width >= REDUCE_WG);
}

fn workgroupMaxAt(inv: Invocation, value: f32, at: u32) -> vec2<u32> {
  partialMax[inv.lid.x] = value;
  partialAt[inv.lid.x] = at;
  workgroupBarrier();
  var best = value;
  var bestAt = at;
  if (inv.width < REDUCE_WG) {
    best = -3.4e38;
    bestAt = NO_INDEX;
    for (var i = inv.lane; i < REDUCE_WG; i += inv.width) {
      let a = partialAt[i];
      if (a != NO_INDEX && (bestAt == NO_INDEX || partialMax[i] > best || (partialMax[i] == best && a < bestAt))) {
        best = partialMax[i];
        bestAt = a;
      }
    }
  }
  // Empty candidates must not win the maximum.
  let candidate = select(-3.4e38, best, bestAt != NO_INDEX);
  let top = subgroupMax(candidate);
  let topAt = subgroupMin(select(NO_INDEX, bestAt, bestAt != NO_INDEX && candidate == top));
  return vec2<u32>(bitcast<u32>(top), topAt);
}
