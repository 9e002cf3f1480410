/**
 * shaders/merge/methodElements.wgsl (and multislerp's shaders/merge/multislerp.wgsl) completed for one job shape
 * (karcher's kernels: the models, then the program's scratch — the output kernel reads the scratch
 * alone): the method, the inputs' dtypes (the base
 * first) and the output dtype are fixed, and `main` is a straight line over the models (as
 * taskArithmeticShader.ts does). The arithmetic is in the .wgsl.
 */
import methodElementsWgsl from '../../../shaders/merge/methodElements.wgsl?raw';
import type { KernelDtype } from '../kernel';
import type { MethodElements } from '../program/gpuElements';
import { elementKernelMain, halves } from './elementKernelMain';
import { varianceFunction } from './varianceWgsl';
import { withBlocksAndStores } from './wgslModules';

export interface MethodElementsShape {
  kernel: MethodElements['kernel'];
  /** The base first, then one input per model. */
  inputDtypes: readonly KernelDtype[];
  outDtype: KernelDtype;
  /** Scalars in the uniform (with the words of a selection boundary). */
  scalarCount: number;
  /** sce: which elements keep their deltas. */
  keep?: 'all' | 'none' | 'select';
  /** nuslerp: input 0 is the base. */
  base?: boolean;
  /** nuslerp by row or column, model_stock's filter_wise: `perLine` coefficients per line in binding 3. */
  lines?: { grouping: 'row' | 'column'; perLine: number };
}

export const METHOD_ELEMENTS_WORKGROUP_SIZE = 64;


export function methodElementsShapeKey(s: MethodElementsShape): string {
  return `${s.kernel} ${s.inputDtypes.join(',')}->${s.outDtype} scalars=${s.scalarCount}${s.keep ? ` keep=${s.keep}` : ''}${s.base ? ' base' : ''}${s.lines ? ` ${s.lines.grouping}s=${s.lines.perLine}` : ''}`;
}

/** The body of `merged(b, x0, …)`: the method's arithmetic over the base b and the models xⱼ. */
function mergedBody(kernel: MethodElements['kernel'], n: number, keep: MethodElementsShape['keep'], base: boolean, byLine: boolean): string[] {
  // The coefficient k: the uniform's, or this element's line's (binding 3).
  const coefficient = (k: number): string => (byLine ? `lineScalar(at, ${k}u)` : `scalar(${k}u)`);
  const models = Array.from({ length: n }, (_, j) => j);
  const sum = (name: string, terms: (j: number) => string): string[] => [`  var ${name} = ${terms(0)};`, ...models.slice(1).map((j) => `  ${name} = ${name} + ${terms(j)};`)];
  // karcher's kernels: the models are every input (b, x0, …), then — but for the start — the scratch.
  const input = (i: number): string => (i === 0 ? 'b' : `x${i - 1}`);
  const karcherModels = (count: number, term: (i: number) => string): string[] => ['  var acc = positiveZero();', ...Array.from({ length: count }, (_, i) => `  acc = ${term(i)};`)];
  switch (kernel) {
    case 'karcher_start':
      return [...karcherModels(n + 1, (i) => `karcherStart(acc, ${input(i)}, ${i}u)`), '  return acc;'];
    case 'karcher_tangent':
    case 'karcher_step':
      return [
        `  let u = karcherU(${input(n)});`,
        ...karcherModels(n, (i) => `karcherTangent(acc, ${input(i)}, u, ${i}u)`),
        kernel === 'karcher_step' ? '  return karcherStep(u, acc);' : '  return acc;',
      ];
    case 'karcher':
      return ['  return karcherU(b) * scalar(4u);'];
    case 'sce': {
      const body = models.map((j) => `  let e${j} = x${j} - b;`);
      if (keep === 'select') {
        body.push(`  let keep = sceKept(variance(${models.map((j) => `e${j}`).join(', ')}), at, ${n + 2}u);`);
      } else {
        body.push(`  let keep = vec4<bool>(${keep === 'all'});`);
      }
      body.push(...models.map((j) => `  let d${j} = sceMasked(e${j}, keep);`));
      body.push(...sum('s', (j) => `d${j}`));
      body.push(...models.map((j) => `  let w${j} = sceWeight(d${j}, s, scalar(${j}u));`));
      body.push(...sum('merged', (j) => `opaque(d${j} * w${j})`), ...sum('weights', (j) => `w${j}`));
      body.push(`  return sceMerged(b, merged, weights, scalar(${n}u));`);
      return body;
    }
    case 'model_stock':
      return ['  var sum = positiveZero();', ...models.map((j) => `  sum = sum + x${j};`), `  return modelStock(b, sum, ${coefficient(0)}, ${coefficient(1)});`];
    case 'nearswap':
      return ['  return nearswap(b, x0);'];
    case 'pair':
      return ['  return pair(b, x0);'];
    case 'nuslerp':
    {
      const c = [0, 1, 2, 3].map(coefficient).join(', ');
      return base ? [`  return b + nuslerpPair(x0 - b, x1 - b, ${c});`] : [`  return nuslerpPair(b, x0, ${c});`];
    }
    case 'multislerp': {
      // Scalars: w₀…, den₀…, p₀…, ‖m‖, cos ρ, sin ρ/ρ, Σ‖vᵢ‖wᵢ, lerp (program/gpuElements.ts).
      const vectors = base ? models.map((j) => `x${j} - b`) : ['b', ...models.map((j) => `x${j}`)];
      const count = vectors.length;
      const f = (i: number): string => `bitcast<f32>(word(${i}u))`;
      const scalars = (from: number): string => `MultislerpScalars(${vectors.map((_, k) => f(from + k)).join(', ')})`;
      const call = `multislerpMerged(MultislerpVectors(${vectors.join(', ')}), ${scalars(0)}, ${scalars(count)}, ${scalars(2 * count)}, ${[0, 1, 2, 3].map((k) => f(3 * count + k)).join(', ')}, ${f(3 * count + 4)} == 1.0)`;
      return [`  let r = ${call};`, base ? '  return b + r;' : '  return r;'];
    }
    case 'ram':
      return [
        ...models.map((j) => `  let d${j} = x${j} - b;\n  let changed${j} = ramChanged(d${j});\n  let tv${j} = ramKept(d${j}, changed${j});`),
        `  let count = ${models.map((j) => `select(vec4<f32>(0.0), vec4<f32>(1.0), changed${j})`).join(' + ')};`,
        '  var merged = ramTerm(tv0, count);',
        ...models.slice(1).map((j) => `  merged = merged + ramTerm(tv${j}, count);`),
        '  return b + merged;',
      ];
  }
}

export function methodElementsShaderCode(s: MethodElementsShape): string {
  const n = s.inputDtypes.length - 1;
  if (n < 1 && s.kernel !== 'karcher') throw new Error(`methodElementsShaderCode: ${s.kernel} needs the base and at least one model, got ${s.inputDtypes.length} inputs`);
  const models = Array.from({ length: n }, (_, j) => j);
  return withBlocksAndStores(
    `${methodElementsWgsl}
// ---- Generated by src/merge/gpu/methodElementsShader.ts for ${methodElementsShapeKey(s)}

const SCALAR_VECTORS: u32 = ${Math.max(1, Math.ceil(s.scalarCount / 4))}u;
${s.lines ? `
// Coefficients per ${s.lines.grouping}: ${s.lines.perLine} per line (methodElementsKernel.ts lays them out).
@group(0) @binding(3) var<storage, read> lineScalars: array<f32>;

fn lineScalar(at: Index, k: u32) -> vec4<f32> {
  let i = vec4<u32>(params.lineOffset) + (at.lo - vec4<u32>(params.offsetLo));
  let line = i ${s.lines.grouping === 'row' ? '/' : '%'} vec4<u32>(params.linePeriod);
  var out: vec4<f32>;
  for (var j = 0u; j < 4u; j++) {
    out[j] = lineScalars[line[j] * ${s.lines.perLine}u + k];
  }
  return out;
}
` : ''}
${s.kernel === 'sce' && s.keep === 'select' ? varianceFunction(n) : ''}
fn merged(b: vec4<f32>, ${models.map((j) => `x${j}: vec4<f32>, `).join('')}at: Index) -> vec4<f32> {
${mergedBody(s.kernel, n, s.keep, s.base ?? false, s.lines !== undefined).join('\n')}
}

${elementKernelMain(METHOD_ELEMENTS_WORKGROUP_SIZE, s.inputDtypes, s.outDtype, (part, odd) => `merged(${halves(n, part)}, indexOf(v, ${odd}u))`)}`,
    { divide: true, selection: true, multislerpModels: s.kernel === 'multislerp' ? n + (s.base ? 0 : 1) : undefined },
  );
}
