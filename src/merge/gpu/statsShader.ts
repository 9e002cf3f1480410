/**
 * shaders/merge/stats.wgsl completed for one input shape: the inputs' loads (dtype and position in the packed
 * buffer fixed, as in soupShader.ts), `selectedKeys` (the magnitudes of the input a selection ranks,
 * minus the base if there is one, or sce's variances) and the entry points `sums` and `lineSums` (the same sums per row or column:
 * lineSums.ts), straight-line over the sums of tensorStats.ts sumTerms: every pair of vectors, then every vector's magnitude sum; or
 * multislerp's chain; or the rescale's magnitudes, kept or not; the vectors zeroed outside sce's variance
 * selection (varianceWgsl.ts' variance, keep.wgsl's keepLargest); the vectors divided by one divisor each
 * when the shape says so). The arithmetic is in stats.wgsl (and multislerp.wgsl, keep.wgsl).
 */
import statsWgsl from '../../../shaders/merge/stats.wgsl?raw';
import type { KernelDtype } from '../kernel';
import type { ModelKeep } from '../program/keep';
import type { ChainStage } from '../program/multislerpChain';
import { sumTerms, type SumTerm } from '../program/tensorStats';
import { blocksPerElementBlock } from './soupShader';
import { varianceFunction } from './varianceWgsl';
import { withBlocks } from './wgslModules';

export interface StatsShape {
  inputDtypes: readonly KernelDtype[];
  /** The input subtracted from the others (dᵢ = xᵢ − base); none: the vectors are the inputs. */
  base?: number;
  /** The input whose magnitudes `selectedKeys` returns (minus the base). */
  selected: number;
  /** The sums' vectors are divided by `divisors[k]` (binding 4), correctly rounded (shaders/merge/divide.wgsl). */
  divided?: boolean;
  /** The diagonal sums f32-rounded squares, not exact ones. */
  roundedSquares?: boolean;
  /** A selection ranks the variance across the vectors (sce) instead of the magnitudes of `selected`. */
  variance?: boolean;
  /**
   * The sums are multislerp's chain (shaders/merge/multislerp.wgsl) up to this stage over the divided vectors;
   * binding 4 holds the divisors, then the weights, ‖m‖ and the projections.
   */
  chain?: ChainStage;
  /**
   * The sums are the rescale's magnitudes, with one keep mask of this kind per vector (binding 5: shaders/merge/keep.wgsl's
   * Models; DELLA's 'bits' masks read their words from binding 6).
   */
  keeps?: readonly ModelKeep['kind'][];
  /**
   * sce: the vectors are +0 where their variance across them is below the boundary in binding 5 (one
   * keep.wgsl Model, its lower selection): keepLargest of the variance, the elements sce's element pass keeps.
   */
  varianceKeep?: boolean;
}

const LOAD: Record<KernelDtype, string> = { F32: 'loadF32', F16: 'loadF16', BF16: 'loadBf16' };
const GATHER: Record<KernelDtype, string> = { F32: 'gatherF32', F16: 'gatherF16', BF16: 'gatherBf16' };

export function statsShapeKey(shape: StatsShape): string {
  return `${shape.inputDtypes.join(',')} base=${shape.base ?? '-'} selected=${shape.selected}${shape.divided ? ' divided' : ''}${shape.roundedSquares ? ' rounded-squares' : ''}${shape.variance ? ' variance' : ''}${shape.chain ? ` chain=${shape.chain}` : ''}${shape.keeps ? ` keeps=${shape.keeps.join(',')}` : ''}${shape.varianceKeep ? ' variance-keep' : ''}`;
}

/** The vectors the sums are over: every input but the base. */
export function statsVectors(shape: Pick<StatsShape, 'inputDtypes' | 'base'>): number[] {
  return shape.inputDtypes.map((_, i) => i).filter((i) => i !== shape.base);
}

/** The sums of a shape, in the order of its partials (tensorStats.ts sumTerms; with a chain, its vector is the last). */
export function statsTerms(shape: StatsShape): SumTerm[] {
  const m = statsVectors(shape).length + (shape.chain ? 1 : 0);
  return sumTerms({ chain: shape.chain ? { weights: [] } : undefined, keeps: shape.keeps ? [] : undefined }, m);
}

const KEEP: Record<ModelKeep['kind'], string> = { all: 'keepAll', largest: 'keepLargest', between: 'keepBetween', random: 'keepRandom', bits: 'keepBits' };

/** The binding of DELLA's mask words (shaders/merge/keepBits.wgsl) in the sums: every masked vector's words over the whole tensor. */
export const STATS_KEEP_BITS_BINDING = 6;
const CHAIN_STAGE: Record<ChainStage, number> = { mean: 0, direction: 1, tangent: 2 };

/**
 * Where each input's blocks start in the packed `src` of a chunk (`first`, in the kernel's
 * params.blockCount), and the load of its block `v` (`load`): the packing of shaders/merge/soup.wgsl.
 */
export function packedLoads(inputDtypes: readonly KernelDtype[]): { first: string; load: string }[] {
  let slot = 0;
  return inputDtypes.map((dtype) => {
    const first = slot === 0 ? '0u' : `${slot}u * params.blockCount`;
    const at = `${slot === 0 ? '' : `${slot}u * params.blockCount + `}${dtype === 'F32' ? '2u * v' : 'v'}`;
    slot += blocksPerElementBlock(dtype);
    return { first, load: `${LOAD[dtype]}(${at})` };
  });
}

export function statsShaderCode(shape: StatsShape): string {
  const { inputDtypes, base, selected } = shape;
  const packed = packedLoads(inputDtypes);
  const loads = inputDtypes.map((dtype, i) => {
    const { first, load } = packed[i];
    return `fn input${i}(v: u32) -> Block {\n  return ${load};\n}\n\nfn lineInput${i}(line: u32, p: LinePositions) -> Block {\n  return Block(${GATHER[dtype]}(${first}, lineElements(line, p.lo)), ${GATHER[dtype]}(${first}, lineElements(line, p.hi)));\n}`;
  });
  const vectors = statsVectors(shape);
  const m = vectors.length;
  /** The straight line of `sums` (or `lineSums`: `load` the lane's elements of an input, the divisors from `divisorAt`). */
  const sumsBody = (load: (i: number) => string, divisorAt: string): string[] => {
    const vectorOf = (i: number, k: number): string => {
      const d = base === undefined ? load(i) : `minus(${load(i)}, b)`;
      return shape.divided ? `dividedBy(${d}, vectorScalars[${divisorAt}${k}u])` : d;
    };
    const body: string[] = [];
    if (base !== undefined) body.push(`  let b = ${load(base)};`);
    if (!shape.varianceKeep) {
      vectors.forEach((i, k) => body.push(`  let d${k} = ${vectorOf(i, k)};`));
      return body;
    }
    // sce's selection: the raw deltas e, their variance's keep mask, the kept vectors d.
    vectors.forEach((i, k) => body.push(`  let e${k} = ${vectorOf(i, k)};`));
    const keep = (part: 'lo' | 'hi', odd: number): string => `keepLargest(variance(${vectors.map((_, k) => `e${k}.${part}`).join(', ')}), indexOf(v, ${odd}u), vectorKeeps[0u])`;
    body.push(`  let keepLo = ${keep('lo', 0)};`, `  let keepHi = ${keep('hi', 1)};`);
    vectors.forEach((_, k) => body.push(`  let d${k} = keptOnly(e${k}, keepLo, keepHi);`));
    return body;
  };
  const body = sumsBody((i) => `input${i}(v)`, '');
  body.push('  let alive = liveBlock(v);');
  if (shape.chain) {
    const at = (from: number): string => `MultislerpScalars(${vectors.map((_, k) => `vectorScalars[${from + k}u]`).join(', ')})`;
    const chain = (part: 'lo' | 'hi'): string =>
      `multislerpChain(MultislerpVectors(${vectors.map((_, k) => `d${k}.${part}`).join(', ')}), ${CHAIN_STAGE[shape.chain!]}u, ${at(m)}, vectorScalars[${2 * m}u], ${at(2 * m + 1)})`;
    body.push(`  let d${m} = Block(${chain('lo')}, ${chain('hi')});`);
  }
  shape.keeps?.forEach((kind, k) => {
    const keep = (part: 'lo' | 'hi', odd: number): string => `${KEEP[kind]}(d${k}.${part}, indexOf(v, ${odd}u), vectorKeeps[${k}u])`;
    body.push(`  let kept${k} = keptOnly(d${k}, ${keep('lo', 0)}, ${keep('hi', 1)});`);
  });
  const sumCalls = statsTerms(shape).map((term, t) => {
    const sum = term.kind === 'l1' ? `magnitudeSum(d${term.i}, alive)` : term.kind === 'kept-l1' ? `magnitudeSum(kept${term.i}, alive)` : term.i === term.j && !shape.roundedSquares ? `squareSum(d${term.i}, alive)` : `productSum(d${term.i}, d${term.j}, alive)`;
    return `  groupSum(li, group, ${t}u, ${sum});`;
  });
  body.push(...sumCalls);
  // Per line (lineSums.ts): plain vectors only (no chain, no keeps), the divisors per line.
  const lineBody = shape.chain || shape.keeps || shape.varianceKeep ? [] : [...sumsBody((i) => `lineInput${i}(line, p)`, `(params.firstLine + line) * ${m}u + `), '  let alive = lineLive(line, p);', ...sumCalls];
  return withBlocks(`${statsWgsl}
// ---- Generated by src/merge/gpu/statsShader.ts for ${statsShapeKey(shape)}

const STATS_TERMS: u32 = ${Math.max(1, statsTerms(shape).length)}u;
${shape.divided ? `
// One divisor per vector (1: the vector as it is); with a chain, then its weights, ‖m‖ and projections.
@group(0) @binding(4) var<storage, read> vectorScalars: array<f32>;

fn dividedBy(x: Block, divisor: f32) -> Block {
  return Block(divide(x.lo, vec4<f32>(divisor)), divide(x.hi, vec4<f32>(divisor)));
}
` : ''}
${loads.join('\n\n')}

${shape.variance || shape.varianceKeep ? varianceFunction(vectors.length) : ''}
${shape.variance ? `fn selectedKeys(v: u32) -> Keys {
${base === undefined ? '' : `  let b = input${base}(v);\n`}${vectors.map((i, k) => `  let e${k} = ${base === undefined ? `input${i}(v)` : `minus(input${i}(v), b)`};`).join('\n')}
  return Keys(magnitudeKeys(variance(${vectors.map((_, k) => `e${k}.lo`).join(', ')})), magnitudeKeys(variance(${vectors.map((_, k) => `e${k}.hi`).join(', ')})));
}` : `fn selectedKeys(v: u32) -> Keys {
${base === undefined ? `  let d = input${selected}(v);` : `  let d = minus(input${selected}(v), input${base}(v));`}
  return Keys(magnitudeKeys(d.lo), magnitudeKeys(d.hi));
}`}

${shape.keeps || shape.varianceKeep ? `// One keep mask per vector (shaders/merge/keep.wgsl), or sce's one variance selection.
@group(0) @binding(5) var<storage, read> vectorKeeps: array<Model>;
` : ''}
@compute @workgroup_size(64)
fn sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let v = blockIndex(gid);
  let group = groupIndex(wid);
${body.join('\n')}
}
${lineBody.length ? `
// One group of one line per workgroup: group g of line g / groupsPerLine of the chunk.
@compute @workgroup_size(64)
fn lineSums(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let group = groupIndex(wid);
  let line = group / params.groupsPerLine;
  let p = linePositions(group, li);
${lineBody.join('\n')}
}
` : ''}`, { divide: shape.divided || shape.variance || shape.varianceKeep, selection: shape.keeps !== undefined || shape.varianceKeep, keep: shape.keeps !== undefined || shape.varianceKeep, keepBits: shape.keeps?.includes('bits') ? STATS_KEEP_BITS_BINDING : undefined, multislerpModels: shape.chain ? vectors.length : undefined });
}
