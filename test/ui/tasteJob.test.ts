import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/errors';
import type { PlanForecast } from '../../src/eval/estimate';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import type { TaskText } from '../../src/ui/taste/protocol';
import { estimateTasteJob, runTasteJob } from '../../src/ui/taste/tasteJob';
import { demoFolder } from './demoFolder';

// The Taste job in Node, on the demo checkpoints (real tokenizer) and the demo tasks.
const TASKS: TaskText[] = ['facts.jsonl', 'prose.txt'].map((file) => ({ file, text: readFileSync(`public/demo/tasks/${file}`, 'utf8') }));

const deps = (signal?: AbortSignal) => ({
  soupBackend: createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner }),
  createModel: async (config: Parameters<typeof CpuCausalLM.load>[0], weights: Parameters<typeof CpuCausalLM.load>[1]) => ({ model: await CpuCausalLM.load(config, weights), description: 'CPU' }),
  signal,
});

const recipe = (a: string, b: string, wa: number, wb: number) =>
  `merge_method: linear\nparameters:\n  normalize: true\nmodels:\n  - model: ${a}\n    parameters:\n      weight: ${wa}\n  - model: ${b}\n    parameters:\n      weight: ${wb}\n`;

describe('runTasteJob', () => {
  it('scores the soup first, then each ingredient; a soup of a model with itself tastes as that model', async () => {
    // Two names for the same weights: the soup 0.7·x + 0.3·x is x again (BF16 weights exactly; F32 norms within an ulp).
    const ingredients = [await demoFolder(0, 'twin-a'), await demoFolder(0, 'twin-b')];
    const seen: string[] = [];
    const d = deps();
    const onForecast = (f: PlanForecast) => seen.push(`forecast: ${f.text}${f.warning ? `; ${f.warning}` : ''}`);
    const out = await runTasteJob({ ingredients, recipeYaml: recipe('twin-a', 'twin-b', 0.7, 0.3), tasks: TASKS, soupName: 'soup' }, { ...d, onForecast, onModel: (r) => seen.push(r.model) }).finally(() =>
      d.soupBackend.dispose(),
    );
    expect(out.map((r) => [r.model, r.role])).toEqual([
      ['soup', 'soup'],
      ['twin-a', 'ingredient'],
      ['twin-b', 'ingredient'],
    ]);
    // The run's time from a warm-up before the first model is scored: three models of the tasks' tokens.
    expect(seen.slice(1)).toEqual(['soup', 'twin-a', 'twin-b']);
    expect(seen[0]).toMatch(/^forecast: 3 models × [\d.]+( K)? tokens ≈ .* tokens\/s on CPU$/);
    const [soup, a, b] = out;
    expect(a.results).toEqual(b.results);
    for (const [i, t] of soup.results.entries()) {
      const u = a.results[i];
      expect(t.name).toBe(u.name);
      if (t.kind === 'multiple_choice' && u.kind === 'multiple_choice') {
        expect(t.items.map((x) => x.pred)).toEqual(u.items.map((x) => x.pred));
        t.items.forEach((x, k) => x.loglikelihoods.forEach((ll, c) => expect(ll).toBeCloseTo(u.items[k].loglikelihoods[c], 4)));
      } else if (t.kind === 'perplexity' && u.kind === 'perplexity') {
        expect(Math.abs(t.perplexity - u.perplexity) / u.perplexity).toBeLessThan(1e-5);
      } else throw new Error('kinds differ');
    }
  }, 60_000);

  it('estimateTasteJob: the run\'s time before tasting, as the run tells it; nothing scored, the model loaded once and disposed', async () => {
    const ingredients = [await demoFolder(0, 'x'), await demoFolder(1, 'y')];
    const d = deps();
    const loaded: CpuCausalLM[] = [];
    const disposed: CpuCausalLM[] = [];
    const createModel = async (config: Parameters<typeof CpuCausalLM.load>[0], weights: Parameters<typeof CpuCausalLM.load>[1]) => {
      const model = await CpuCausalLM.load(config, weights);
      loaded.push(model);
      const dispose = model.dispose.bind(model);
      model.dispose = () => {
        disposed.push(model);
        dispose();
      };
      return { model, description: 'CPU' };
    };
    const req = { ingredients, recipeYaml: recipe('x', 'y', 1, 1), tasks: TASKS, soupName: 'soup' };
    let told: PlanForecast | undefined;
    try {
      const estimate = await estimateTasteJob(req, { ...d, createModel });
      expect(estimate.text).toMatch(/^3 models × [\d.]+( K)? tokens ≈ .* tokens\/s on CPU$/);
      expect(loaded).toHaveLength(1);
      expect(disposed).toEqual(loaded);
      // The run prices the same plan: its models and its tokens (the pace is measured again).
      await runTasteJob(req, { ...d, onForecast: (f) => (told = f) });
      expect({ points: told!.points, tokensPerPoint: told!.tokensPerPoint }).toEqual({ points: estimate.points, tokensPerPoint: estimate.tokensPerPoint });
    } finally {
      await d.soupBackend.dispose();
    }
  });

  it('a different ingredient makes a different soup: its scores are not any ingredient\'s', async () => {
    const ingredients = [await demoFolder(0, 'x'), await demoFolder(1, 'y')];
    const d = deps();
    const out = await runTasteJob({ ingredients, recipeYaml: recipe('x', 'y', 1, 1), tasks: TASKS.slice(1), soupName: 'soup' }, d).finally(() => d.soupBackend.dispose());
    const ppl = out.map((r) => (r.results[0].kind === 'perplexity' ? r.results[0].perplexity : NaN));
    expect(new Set(ppl).size).toBe(3);
  }, 60_000);

  it('refuses a model folder without tokenizer.json in one line, and stops when cancelled', async () => {
    const d = deps();
    try {
      const noTok = [await demoFolder(0, 'p', false), await demoFolder(1, 'q', false)];
      await expect(runTasteJob({ ingredients: noTok, recipeYaml: recipe('p', 'q', 1, 1), tasks: TASKS, soupName: 'soup' }, d)).rejects.toThrow(
        /^p: no tokenizer\.json beside the weights; scoring needs the model's tokenizer/,
      );
      await expect(runTasteJob({ ingredients: noTok, recipeYaml: recipe('p', 'q', 1, 1), tasks: [], soupName: 'soup' }, d)).rejects.toThrow('Add task files');
      const ok = [await demoFolder(0, 'p'), await demoFolder(1, 'q')];
      const ac = new AbortController();
      const models: string[] = [];
      const run = runTasteJob(
        { ingredients: ok, recipeYaml: recipe('p', 'q', 1, 1), tasks: TASKS, soupName: 'soup' },
        { ...d, signal: ac.signal, onModel: (r) => (models.push(r.model), ac.abort()) },
      );
      await expect(run).rejects.toBeInstanceOf(CancelledError);
      expect(models).toEqual(['soup']);
    } finally {
      await d.soupBackend.dispose();
    }
  }, 60_000);
});
