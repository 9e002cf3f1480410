/**
 * How long a Taste or a Search will take, from a short measured warm-up (issue 19 §4): the model scores
 * a few of the plan's own sequences, and the plan's tokens are priced at that pace. On the CPU a plan of
 * hours gets a warning that names the faster alternatives.
 */
import type { CausalLM, ScoreOptions } from '../model/types';
import { formatCount } from '../util/count';
import { tokensToScore, type PreparedTask } from './evaluate';

export interface PlanEstimate {
  /** Points (soups) to evaluate; 1 for a Taste of one model. */
  points: number;
  /** Tokens scored per point. */
  tokensPerPoint: number;
  /** The measured pace. */
  tokensPerSecond: number;
  seconds: number;
}

/** Plans longer than this on the CPU are warned about. */
export const SLOW_PLAN_SECONDS = 3600;

/** The first sequences the tasks would score, up to `maxTokens` tokens (at least one sequence). */
function sampleSequences(tasks: PreparedTask[], maxTokens: number): Int32Array[] {
  const out: Int32Array[] = [];
  let tokens = 0;
  for (const t of tasks) {
    const seqs = t.kind === 'multiple_choice' ? t.items.flatMap((it) => it.choices.map((c) => c.sequence)) : t.documents.flatMap((d) => d.windows.map((w) => w.sequence));
    for (const s of seqs) {
      if (out.length > 0 && tokens + s.length > maxTokens) return out;
      out.push(Int32Array.from(s));
      tokens += s.length;
    }
  }
  return out;
}

/**
 * Tokens per second of `model` on the tasks' own first sequences (about `sampleTokens` tokens), after a
 * first call that compiles and warms its kernels.
 */
export async function measurePace(model: CausalLM, tasks: PreparedTask[], options: Pick<ScoreOptions, 'signal'> & { sampleTokens?: number } = {}): Promise<number> {
  const sample = sampleSequences(tasks, options.sampleTokens ?? 256);
  if (sample.length === 0) return Infinity;
  await model.scoreTokens([sample[0].subarray(0, Math.min(8, sample[0].length))], { signal: options.signal });
  const t0 = performance.now();
  await model.scoreTokens(sample, { signal: options.signal });
  const seconds = Math.max(1e-6, (performance.now() - t0) / 1000);
  return sample.reduce((s, q) => s + Math.max(0, q.length - 1), 0) / seconds;
}

export function estimatePlan(tasks: PreparedTask[], points: number, tokensPerSecond: number): PlanEstimate {
  const tokensPerPoint = tokensToScore(tasks);
  return { points, tokensPerPoint, tokensPerSecond, seconds: (points * tokensPerPoint) / tokensPerSecond };
}

/** "45 s", "21 min", "5.0 h", "3.2 days". */
export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** "1,530 tokens/s": a pace, as the estimate and the studio's progress say it. */
export function paceText(tokensPerSecond: number): string {
  return `${Math.round(tokensPerSecond).toLocaleString('en-US')} tokens/s`;
}

/** What is being counted: a search's points, or a Taste's models (the soup and its ingredients). */
export type PlanUnit = 'points' | 'models';

/** "37 points × 48.0 K tokens ≈ 21 min at 1,530 tokens/s on CPU (…)". */
export function estimateText(e: PlanEstimate, device: string, unit: PlanUnit = 'points'): string {
  const what = e.points === 1 ? `${formatCount(e.tokensPerPoint)} tokens` : `${e.points} ${unit} × ${formatCount(e.tokensPerPoint)} tokens`;
  return `${what} ≈ ${duration(e.seconds)} at ${paceText(e.tokensPerSecond)} on ${device}`;
}

/** Where the user is: the alternatives are named in the words of the CLI or of the studio's view. */
export type Surface = 'cli' | 'studio-search' | 'studio-taste';

const FASTER: Record<Surface, { gpu: string; shorter: string }> = {
  cli: {
    gpu: 'a machine with a GPU (--backend webgpu) is many times faster',
    shorter: 'fewer items per task, fewer points (a larger --step, or --plan adaptive) or running souplab search on a larger machine or a cluster shorten it',
  },
  'studio-search': {
    gpu: 'a machine with a GPU (the WebGPU backend) is many times faster',
    shorter: 'fewer items per task, fewer points (a larger step, or the adaptive plan) or running souplab search on a larger machine or a cluster (the Cluster panel writes its plan) shorten it',
  },
  'studio-taste': {
    gpu: 'a machine with a GPU (the WebGPU backend) is many times faster',
    shorter: 'fewer items per task, or running souplab eval on a larger machine, shorten it',
  },
};

/** On the CPU, a plan of more than SLOW_PLAN_SECONDS: what to do instead; else null. */
export function slowPlanWarning(e: PlanEstimate, backend: CausalLM['backend'], surface: Surface = 'cli'): string | null {
  if (backend !== 'cpu' || !(e.seconds > SLOW_PLAN_SECONDS)) return null;
  const faster = FASTER[surface];
  return `this will take about ${duration(e.seconds)} on the CPU: ${faster.gpu}; ${faster.shorter}`;
}

/** A plan's estimate as the user reads it: the line, and the warning when the CPU will take hours. */
export interface PlanForecast extends PlanEstimate {
  /** "at least 37 points × 48.0 K tokens ≈ 21 min at … on …". */
  text: string;
  warning: string | null;
}

/**
 * The whole plan's time from a short measured warm-up on the loaded model (about 64 tokens of the plan's
 * own sequences), for the studio's Taste and Search as for the CLI. `atLeast`: the count is a lower bound
 * (an adaptive search's).
 */
export async function forecastPlan(
  model: CausalLM,
  device: string,
  tasks: PreparedTask[],
  points: number,
  options: { unit?: PlanUnit; atLeast?: boolean; surface?: Surface; signal?: AbortSignal } = {},
): Promise<PlanForecast> {
  const estimate = estimatePlan(tasks, points, await measurePace(model, tasks, { signal: options.signal, sampleTokens: 64 }));
  return {
    ...estimate,
    text: `${options.atLeast ? 'at least ' : ''}${estimateText(estimate, device, options.unit)}`,
    warning: slowPlanWarning(estimate, model.backend, options.surface),
  };
}
