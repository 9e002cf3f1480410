import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/errors';
import type { PlanForecast } from '../../src/eval/estimate';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import type { TrialRecord, TrialStore } from '../../src/search/runSearch';
import type { SearchSettings } from '../../src/ui/search/protocol';
import { estimateSearchJob, runSearchJob } from '../../src/ui/search/searchJob';
import type { TaskText } from '../../src/ui/taste/protocol';
import { demoFolder } from './demoFolder';

// The Search worker's job in Node, on demo checkpoints and demo tasks, with a store that keeps what it
// is given (as the IndexedDB one does): cancelled mid-way and started again, it evaluates only the rest
// and ends with the trials of an uninterrupted run.
const TASKS: TaskText[] = ['facts.jsonl', 'prose.txt'].map((file) => ({ file, text: readFileSync(`public/demo/tasks/${file}`, 'utf8') }));

function memoryStore(): TrialStore & { records: TrialRecord[] } {
  const records: TrialRecord[] = [];
  return { records, load: async () => structuredClone(records), append: async (r) => void records.push(structuredClone(r)) };
}

const settings = (over: Partial<SearchSettings> = {}): SearchSettings => ({
  models: ['x', 'y', 'z'],
  experts: ['x', 'y'],
  plan: { kind: 'grid', step: 0.25 },
  tasks: TASKS.map((t) => t.file),
  metric: 'acc_norm',
  splitSeed: 0,
  tuneShare: 0.5,
  backend: 'cpu',
  ...over,
});

async function run(store: TrialStore, s: SearchSettings, signal?: AbortSignal, onFresh?: (r: TrialRecord) => void) {
  const ingredients = [await demoFolder(0, 'x'), await demoFolder(1, 'y'), await demoFolder(2, 'z')];
  const soupBackend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
  const fits: string[] = [];
  const forecasts: (PlanForecast | null)[] = [];
  try {
    const result = await runSearchJob(
      { settings: s, ingredients, tasks: TASKS },
      {
        soupBackend,
        createModel: async (config, weights) => {
          const model = await CpuCausalLM.load(config, weights);
          return { model, description: 'CPU', dispose: () => model.dispose() };
        },
        store,
        memoryBudget: 1e9,
        signal,
        onStarted: (info) => fits.push(info.fit),
        onForecast: (f) => forecasts.push(f),
        onEvent: (e) => {
          if (e.type === 'trial' && !e.reused) onFresh?.(e.record);
        },
      },
    );
    return { ...result, fits, forecasts };
  } finally {
    await soupBackend.dispose();
  }
}

describe('runSearchJob', () => {
  it('cancelled after two points and started again: only the rest is evaluated, and the trials equal an uninterrupted run', async () => {
    const whole = memoryStore();
    const full = await run(whole, settings());
    // 3 models, experts x, y, step 0.25: x, y, z alone, uniform of all, uniform of x+y (grid 0.5), grid 0.25 and 0.75, coalitions x+z, y+z.
    expect(full.outcome.trials).toHaveLength(9);
    expect(full.outcome.evaluated).toBe(9);
    expect(full.fits[0]).toMatch(/^fit: 3 models .* held in memory/);
    // Before the first point: the whole plan's time from a warm-up on the loaded model.
    expect(full.forecasts).toHaveLength(1);
    expect(full.forecasts[0]!.points).toBe(9);
    expect(full.forecasts[0]!.text).toMatch(/^9 points × [\d.]+( K)? tokens ≈ .* tokens\/s on CPU$/);
    expect(full.evidence.best).not.toBeNull();
    expect(full.evidence.shapley.values).not.toBeNull();

    const store = memoryStore();
    const ac = new AbortController();
    let fresh = 0;
    await expect(run(store, settings(), ac.signal, () => ++fresh === 2 && ac.abort())).rejects.toBeInstanceOf(CancelledError);
    expect(store.records).toHaveLength(2);
    const kept = structuredClone(store.records);
    const seen: string[] = [];
    const resumed = await run(store, settings(), undefined, (r) => seen.push(r.key));
    expect(resumed.outcome.evaluated).toBe(7);
    // Resumed: the estimate prices only the points left.
    expect(resumed.forecasts[0]!.points).toBe(7);
    expect(resumed.forecasts[0]!.tokensPerPoint).toBe(full.forecasts[0]!.tokensPerPoint);
    expect(seen.filter((k) => kept.some((r) => r.key === k))).toEqual([]);
    expect(store.records.slice(0, 2)).toEqual(kept);
    const strip = (t: TrialRecord) => ({ ...t, soupSeconds: 0, evalSeconds: 0 });
    expect(resumed.outcome.trials.map(strip).sort((a, b) => a.key.localeCompare(b.key))).toEqual(full.outcome.trials.map(strip).sort((a, b) => a.key.localeCompare(b.key)));
    expect(resumed.evidence.best).toEqual(full.evidence.best);
  }, 180_000);

  it('estimateSearchJob: the plan\'s time before starting (the points left), nothing evaluated or stored; null when all are stored', async () => {
    const ingredients = [await demoFolder(0, 'x'), await demoFolder(1, 'y'), await demoFolder(2, 'z')];
    const soupBackend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const loaded: string[] = [];
    const deps = (stored: TrialStore) => ({
      soupBackend,
      createModel: async (config: Parameters<typeof CpuCausalLM.load>[0], weights: Parameters<typeof CpuCausalLM.load>[1]) => {
        const model = await CpuCausalLM.load(config, weights);
        loaded.push('model');
        return { model, description: 'CPU', dispose: () => model.dispose() };
      },
      memoryBudget: 1e9,
      stored,
    });
    try {
      const store = memoryStore();
      const fresh = await estimateSearchJob({ settings: settings(), ingredients, tasks: TASKS }, deps(store));
      // As the run prices it before its first point (the test above: 9 points).
      expect(fresh!.points).toBe(9);
      expect(fresh!.text).toMatch(/^9 points × [\d.]+( K)? tokens ≈ .* tokens\/s on CPU$/);
      expect(store.records).toEqual([]);
      expect(loaded).toHaveLength(1);

      const stored = memoryStore();
      const ac = new AbortController();
      let fresh2 = 0;
      await expect(run(stored, settings(), ac.signal, () => ++fresh2 === 3 && ac.abort())).rejects.toBeInstanceOf(CancelledError);
      const kept = structuredClone(stored.records);
      const left = await estimateSearchJob({ settings: settings(), ingredients, tasks: TASKS }, deps(stored));
      expect(left!.points).toBe(9 - kept.length);
      expect(left!.tokensPerPoint).toBe(fresh!.tokensPerPoint);
      expect(stored.records).toEqual(kept);

      await run(stored, settings());
      expect(await estimateSearchJob({ settings: settings(), ingredients, tasks: TASKS }, deps(stored))).toBeNull();
    } finally {
      await soupBackend.dispose();
    }
  }, 180_000);

  it('says what is wrong before evaluating: an expert outside the search, a list plan that names no model', async () => {
    await expect(run(memoryStore(), settings({ experts: ['w'] }))).rejects.toThrow('the expert w is not among the models of the search (x, y, z)');
    await expect(run(memoryStore(), settings({ plan: { kind: 'list', file: 'index.csv', text: 'recipe,weight: q\nr1,1\n' } }))).rejects.toThrow(/index\.csv: column "weight: q" names no model/);
  }, 60_000);
});
