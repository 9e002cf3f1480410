/**
 * sce's variance across the task vectors in WGSL, straight-line over n models: the twin of
 * src/merge/program/tensorStats.ts varianceOf, every f32 step in its order (products opaque, quotients
 * correctly rounded by shaders/merge/divide.wgsl). Generated into the kernels that need it: the statistics
 * (shaders/merge/stats.wgsl, sce's selection) and the element pass (shaders/merge/methodElements.wgsl).
 */

/** `fn variance(e0, …, eₙ₋₁) -> vec4<f32>`; the kernel provides `opaque` and includes divide.wgsl. */
export function varianceFunction(n: number): string {
  const models = Array.from({ length: n }, (_, j) => j);
  return `// The variance across the ${n} task vectors (tensorStats.ts varianceOf).
fn variance(${models.map((j) => `e${j}: vec4<f32>`).join(', ')}) -> vec4<f32> {
  let count = vec4<f32>(${n}.0);
  var s = e0;
${models.slice(1).map((j) => `  s = s + e${j};`).join('\n')}
  let mean = divide(s, count);
${models.map((j) => `  let t${j} = e${j} - mean;`).join('\n')}
  var q = opaque(t0 * t0);
${models.slice(1).map((j) => `  q = q + opaque(t${j} * t${j});`).join('\n')}
  return divide(q, count);
}
`;
}
