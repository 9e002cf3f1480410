/**
 * Pieces the method files share: parameter declarations as mergekit names them, f32 helpers, and
 * the joining of statistics passes that read the same chunks.
 */
import { InputError } from '../../errors';
import type { ElementChunk, ParameterSpec, StatisticsPass, TensorContext } from './types';

export const fr = Math.fround;

export const WEIGHT: ParameterSpec = {
  name: 'weight',
  level: 'model',
  kind: 'number',
  required: true,
  default: 1,
  description: "the model's weight (mergekit requires it; SoupLab reads a missing one as 1 and writes it out)",
};

export const DENSITY: ParameterSpec = {
  name: 'density',
  level: 'model',
  kind: 'number',
  required: false,
  default: 1,
  range: { min: 0, max: 1 },
  description: "fraction of the model's delta kept",
};

export const NORMALIZE = (byDefault: boolean): ParameterSpec => ({
  name: 'normalize',
  level: 'tensor',
  kind: 'boolean',
  required: false,
  default: byDefault,
  description: 'divide the summed deltas by the sum of the weights that contributed',
});

export const RANDOM_SEED: ParameterSpec = {
  name: 'random_seed',
  level: 'recipe',
  kind: 'integer',
  required: false,
  range: { min: 0, max: 4294967295 },
  description: 'seed of the random drop masks (SoupLab; mergekit ignores it): unset, one is drawn and recorded in the output',
};

/** One pass made of several passes of the same kind that read the same chunks (one per model). */
export function zipPasses(lists: StatisticsPass[][]): StatisticsPass[] {
  const n = Math.max(0, ...lists.map((l) => l.length));
  const out: StatisticsPass[] = [];
  for (let p = 0; p < n; p++) {
    const parts = lists.map((l) => l[p]).filter((x): x is StatisticsPass => x !== undefined);
    if (parts.length === 1) out.push(parts[0]);
    else if (parts.length > 1) {
      out.push({
        kind: parts[0].kind,
        label: parts[0].label,
        chunkMultiple: parts.find((x) => x.chunkMultiple)?.chunkMultiple,
        accumulate: (c) => parts.forEach((x) => x.accumulate(c)),
        finish: () => parts.forEach((x) => x.finish()),
        // A GPU can take the zipped pass only if it can take every part.
        gpu: parts.every((x) => x.gpu) ? parts.flatMap((x) => x.gpu ?? []) : undefined,
      });
    }
  }
  return out;
}

/** f32 task vectors of one chunk: δⱼ = f32(xⱼ − base) for every input but the base (index 0). */
export function deltasOf(chunk: ElementChunk): Float32Array[] {
  const b = chunk.x[0];
  return chunk.x.slice(1).map((x) => {
    const d = new Float32Array(chunk.count);
    for (let i = 0; i < chunk.count; i++) d[i] = x[i] - b[i];
    return d;
  });
}

export function numberOf(ctx: TensorContext, name: string, fallback?: number): number {
  const v = ctx.params[name];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new InputError(`tensor ${ctx.name}: parameter ${name} is not set`);
}

export function booleanOf(ctx: TensorContext, name: string, fallback: boolean): boolean {
  const v = ctx.params[name];
  return typeof v === 'boolean' ? v : fallback;
}

export function modelNumber(ctx: TensorContext, model: number, name: string, fallback: number): number {
  const v = ctx.modelParams[model]?.[name];
  return typeof v === 'number' ? v : fallback;
}

/** f64 sums over a chunk stream, one accumulator per named quantity (norms², dot products). */
export class Moments {
  readonly sums: Float64Array;
  constructor(size: number) {
    this.sums = new Float64Array(size);
  }
}

/** Rows of a tensor for per-row statistics: the last dimension's length (1-D: the whole tensor). */
export function rowLength(shape: number[]): number {
  return shape.length === 0 ? 1 : Math.max(1, shape[shape.length - 1]);
}
