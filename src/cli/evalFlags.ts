/** The flags of the evaluation that `eval` and `search` share: the choice metric and the context length. */
import type { ChoiceMetric } from '../eval/scores';
import { UsageError } from './io';

/** --metric: acc or acc_norm (the default). */
export function metricFlag(v: string | true | undefined): ChoiceMetric {
  if (v === undefined) return 'acc_norm';
  if (v === 'acc' || v === 'acc_norm') return v;
  throw new UsageError(`--metric must be acc or acc_norm, got '${String(v)}'`);
}

export function maxLengthFlag(v: string | true | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1) throw new UsageError(`--max-length must be a whole number of tokens ≥ 1, got '${String(v)}'`);
  return n;
}
