/**
 * The plan's time estimate (issue 19 §4): the pace measured on the tasks' own sequences with a real model,
 * the plan priced at it, and the warning on the CPU for plans of hours.
 */
import { expect, test } from 'vitest';
import { estimatePlan, estimateText, measurePace, slowPlanWarning, SLOW_PLAN_SECONDS } from '../../src/eval/estimate';
import { prepareTasks, tokensToScore } from '../../src/eval/evaluate';
import { FastCpuCausalLM } from '../../src/model/cpu/fastCpuCausalLM';
import { plannedPoints } from '../../src/search/planSize';
import { openTinyModel } from '../model/helpers';
import { MC_ITEMS } from './helpers';

test('the pace is measured on the model; the plan is priced at it; hours on the CPU are warned about, naming the alternatives', async () => {
  const m = await openTinyModel({ architecture: 'qwen2', dtype: 'BF16', seed: 2 });
  const { tasks } = prepareTasks(m.tokenizer!, [{ name: 'facts', file: 'facts.jsonl', kind: 'multiple_choice', items: MC_ITEMS.map((it, i) => ({ ...it, line: i + 1, delimiter: ' ' })), problems: [] }], 512);
  const model = await FastCpuCausalLM.load(m.config, m.weights);
  const pace = await measurePace(model, tasks, { sampleTokens: 64 });
  model.dispose();
  expect(pace).toBeGreaterThan(0);
  expect(Number.isFinite(pace)).toBe(true);

  const e = estimatePlan(tasks, 37, 100);
  expect(e.tokensPerPoint).toBe(tokensToScore(tasks));
  expect(e.seconds).toBeCloseTo((37 * e.tokensPerPoint) / 100, 9);
  expect(estimateText({ points: 37, tokensPerPoint: 48_000, tokensPerSecond: 1530, seconds: (37 * 48_000) / 1530 }, 'CPU (x)')).toBe('37 points × 48.0 K tokens ≈ 19 min at 1,530 tokens/s on CPU (x)');
  expect(estimateText({ points: 4, tokensPerPoint: 3053, tokensPerSecond: 1167, seconds: (4 * 3053) / 1167 }, 'CPU (x)', 'models')).toBe('4 models × 3.05 K tokens ≈ 10 s at 1,167 tokens/s on CPU (x)');

  const slow = { points: 37, tokensPerPoint: 48_000, tokensPerSecond: 100, seconds: SLOW_PLAN_SECONDS * 5 };
  expect(slowPlanWarning(slow, 'cpu')).toMatch(/^this will take about 5\.0 h on the CPU: a machine with a GPU \(--backend webgpu\).*fewer items.*cluster/);
  // The studio names the same alternatives in its own words: its backend choice, its plan, the Cluster panel.
  expect(slowPlanWarning(slow, 'cpu', 'studio-search')).toMatch(/^this will take about 5\.0 h on the CPU: a machine with a GPU \(the WebGPU backend\).*fewer items.*adaptive plan.*cluster \(the Cluster panel/);
  expect(slowPlanWarning(slow, 'cpu', 'studio-taste')).toMatch(/^this will take about 5\.0 h on the CPU: a machine with a GPU \(the WebGPU backend\).*fewer items per task, or running souplab eval/);
  expect(estimateText({ ...slow, points: 3 }, 'CPU (x)', 'models')).toMatch(/^3 models × 48.0 K tokens ≈ /);
  expect(slowPlanWarning(slow, 'webgpu')).toBeNull();
  expect(slowPlanWarning({ ...slow, seconds: SLOW_PLAN_SECONDS / 2 }, 'cpu')).toBeNull();
});

test('plannedPoints: baselines, grid and coalitions counted once; points already evaluated left out; adaptive is a lower bound', () => {
  // Two models at step 0.5: the singles, and the half-half soup (the grid's only point, also the uniform baseline).
  const spec = { models: ['a', 'b'], experts: [0, 1], plan: { kind: 'grid' as const, step: 0.5 }, metric: 'acc' as const, splitSeed: 0, tuneShare: 0.5 };
  expect(plannedPoints(spec)).toEqual({ points: 3, atLeast: false });
  expect(plannedPoints(spec, new Set(['1|0']))).toEqual({ points: 2, atLeast: false });
  expect(plannedPoints({ ...spec, plan: { kind: 'adaptive', step: 0.5 } })).toEqual({ points: 3, atLeast: true });
});
