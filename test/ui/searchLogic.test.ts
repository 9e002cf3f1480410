import { describe, expect, it } from 'vitest';
import { searchIdOf, type SearchManifest } from '../../src/search/manifest';
import { pointKey } from '../../src/search/points';
import type { TrialRecord } from '../../src/search/runSearch';
import { chartRanking, manifestOf, planPreview } from '../../src/ui/search/derive';
import type { SearchSettings } from '../../src/ui/search/protocol';
import { provenanceFor } from '../../src/ui/state/searchStore';

const settings = (over: Partial<SearchSettings> = {}): SearchSettings => ({
  models: ['a', 'b', 'c'],
  experts: ['a', 'b', 'c'],
  plan: { kind: 'grid', step: 0.1 },
  tasks: ['t.jsonl'],
  metric: 'acc_norm',
  splitSeed: 0,
  tuneShare: 0.5,
  backend: 'cpu',
  ...over,
});

describe('planPreview', () => {
  it('counts the paper’s 3-expert grid: 3 singles + uniform, 36 more grid points, 3 pair coalitions; what is stored', () => {
    // The 37-point grid of 3 experts includes the uniform soup (a baseline); the pairs are not on the grid (weights ≥ 0.1 each).
    expect(planPreview(settings(), new Set())).toEqual({ baselines: 4, plan: 36, coalitions: 3, total: 43, stored: 0 });
    const stored = new Set([pointKey([1, 0, 0]), pointKey([0.5, 0.5, 0]), 'not-a-point']);
    expect(planPreview(settings(), stored).stored).toBe(2);
  });

  it('two experts among three models: the uniform soup of the experts is a baseline; the adaptive plan has no count', () => {
    expect(planPreview(settings({ experts: ['a', 'b'], plan: { kind: 'grid', step: 0.25 } }), new Set())).toEqual({ baselines: 5, plan: 2, coalitions: 2, total: 9, stored: 0 });
    expect(planPreview(settings({ plan: { kind: 'adaptive', step: 0.1 } }), new Set()).plan).toBeNull();
  });

  it('a list plan counts its distinct rows that are not baselines', () => {
    const text = 'recipe,weight: a,weight: b\nr1,1,1\nr2,0.3,0.7\nr3,3,7\nr4,1,0\n';
    expect(planPreview(settings({ models: ['a', 'b'], experts: ['a', 'b'], plan: { kind: 'list', file: 'index.csv', text } }), new Set())).toMatchObject({ baselines: 3, plan: 1 });
  });
});

describe('searchIdOf', () => {
  const base: SearchManifest = { souplab: 'search', models: [{ name: 'a', path: 'folder: model.safetensors 10' }], tasks: [{ name: 't.jsonl', sha256: 'ab' }], metric: 'acc_norm', splitSeed: 0, tuneShare: 0.5 };
  it('is the same for the same manifest and differs when any field differs', async () => {
    const id = await searchIdOf(base);
    expect(await searchIdOf(structuredClone(base))).toBe(id);
    const variants: SearchManifest[] = [
      { ...base, models: [{ name: 'a', path: 'folder: model.safetensors 11' }] },
      { ...base, tasks: [{ name: 't.jsonl', sha256: 'ac' }] },
      { ...base, metric: 'acc' },
      { ...base, splitSeed: 1 },
      { ...base, tuneShare: 1 },
    ];
    for (const v of variants) expect(await searchIdOf(v)).not.toBe(id);
  });

  it('manifestOf hashes the task texts: an edited task file is another search, the plan is not part of it', async () => {
    const models = [{ name: 'a', identity: 'x' }];
    const m1 = await manifestOf(settings(), models, [{ file: 't.jsonl', text: 'one' }]);
    const m2 = await manifestOf(settings({ plan: { kind: 'adaptive', step: 0.1 } }), models, [{ file: 't.jsonl', text: 'one' }]);
    const m3 = await manifestOf(settings(), models, [{ file: 't.jsonl', text: 'two' }]);
    expect(await searchIdOf(m1)).toBe(await searchIdOf(m2));
    expect(await searchIdOf(m1)).not.toBe(await searchIdOf(m3));
    expect(m1.tasks[0].sha256).toBe('7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed');
  });
});

const trial = (weights: number[], objective: number): TrialRecord => ({
  key: pointKey(weights),
  weights,
  kinds: ['grid'],
  tune: { t: objective },
  heldOut: { t: objective },
  objective,
  heldOutObjective: objective,
  soupSeconds: 0,
  evalSeconds: 0,
  solved: {},
});

describe('chartRanking', () => {
  it('keeps the trials on the experts only, weights over the experts, best first, the best ring on the given key', () => {
    const s = settings({ experts: ['a', 'c'] });
    const trials = [trial([1, 0, 0], 1), trial([0, 1, 0], 9), trial([0.5, 0, 0.5], 3), trial([0.3, 0, 0.7], 4), trial([1 / 3, 1 / 3, 1 / 3], 2)];
    const { ranking, experts } = chartRanking(trials, ['t1', 't2', 't3', 't4', 't5'], s, ['t'], pointKey([0.5, 0, 0.5]));
    expect(experts).toEqual(['a', 'c']);
    expect(ranking.ranked.map((r) => [r.id, r.normalized, r.rank])).toEqual([
      ['t4', [0.3, 0.7], 1],
      ['t3', [0.5, 0.5], 2],
      ['t1', [1, 0], 3],
    ]);
    expect(ranking.best?.id).toBe('t3');
  });
});

describe('provenanceFor', () => {
  const exported = { trialId: 'trial-004', weights: { a: 0.3, b: 0.7, c: 0 }, metadata: { 'souplab.search': '{}' } };
  it('holds while the soup on screen has the exported weights (any scale), not after they change', () => {
    expect(provenanceFor(exported, [{ name: 'a', weight: 3 }, { name: 'b', weight: 7 }])).toBe(exported);
    expect(provenanceFor(exported, [{ name: 'a', weight: 0.3 }, { name: 'b', weight: 0.7 }, { name: 'c', weight: 0 }])).toBe(exported);
    expect(provenanceFor(exported, [{ name: 'a', weight: 0.4 }, { name: 'b', weight: 0.6 }])).toBeNull();
    expect(provenanceFor(exported, [{ name: 'a', weight: 0.3 }, { name: 'b', weight: 0.7 }, { name: 'c', weight: 0.1 }])).toBeNull();
    expect(provenanceFor(exported, [{ name: 'b', weight: 1 }])).toBeNull();
    expect(provenanceFor(null, [{ name: 'a', weight: 1 }])).toBeNull();
  });
});
