import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScoreTable } from '../../src/analysis';
import { baseModelsOf, groupModels, matchesSearch, NO_BASE, toggleIn } from '../../src/ui/scores/candidates';
import { DEMO_CANDIDATES } from '../../src/ui/scores/demo';
import { deriveAnalysis, deriveTable, effectiveChoices, type AnalysisChoices } from '../../src/ui/scores/derive';
import { proposedWeights } from '../../src/ui/scores/proposal';

const bfclFile = { name: 'data_overall.csv', text: readFileSync('public/demo/bfcl-v3/data_overall.csv', 'utf8') };
const choices = (over: Partial<AnalysisChoices> = {}): AnalysisChoices => ({
  categories: null,
  candidates: null,
  tau: 0.2,
  mode: 'paper',
  rule: 'signed',
  method: 'pearson',
  candidateRowsOnly: false,
  ...over,
});

describe('demo defaults on the real BFCL v3 table', () => {
  const files = [bfclFile];
  const table = deriveTable(files, null)!.value!;

  it('the paper\'s 70B candidates are on the leaderboard, and give the paper\'s three experts', () => {
    for (const m of DEMO_CANDIDATES) expect(table.models).toContain(m);
    const a = deriveAnalysis(table, choices({ candidates: DEMO_CANDIDATES })).value!;
    expect(new Set(a.expertSet)).toEqual(new Set(DEMO_CANDIDATES));
    expect(a.categories).toEqual(table.categories);
    expect(a.categories).not.toContain('Overall Acc');
    expect(a.rows).toHaveLength(table.models.length);
  });

  it('memoises: the same inputs give the same objects, value-equal choices included', () => {
    expect(deriveTable(files, null)).toBe(deriveTable(files, null));
    const a1 = deriveAnalysis(table, choices({ candidates: [...DEMO_CANDIDATES] }));
    const a2 = deriveAnalysis(table, choices({ candidates: [...DEMO_CANDIDATES] }));
    expect(a2).toBe(a1);
    const a3 = deriveAnalysis(table, choices({ candidates: [...DEMO_CANDIDATES], tau: 0.3 }));
    expect(a3).not.toBe(a1);
    expect(a3.value!.tau).toBe(0.3);
  });

  it('correlates over the candidates only when asked', () => {
    const a = deriveAnalysis(table, choices({ candidates: table.models.slice(0, 10), candidateRowsOnly: true })).value!;
    expect(a.rows).toEqual(table.models.slice(0, 10));
  });

  it('choices saved for another table fall back to the defaults; deliberate bad ones reach the engine\'s error', () => {
    const stale = effectiveChoices(table, choices({ categories: ['Nope', 'Neither'], candidates: ['ghost-model'] }));
    expect(stale.categories).toEqual(table.categories);
    expect(stale.candidates).toEqual(table.models);
    const one = deriveAnalysis(table, choices({ categories: ['Live Simple AST'] }));
    expect(one.value).toBeNull();
    expect(one.error).toMatch(/at least 2 categories/);
    const none = deriveAnalysis(table, choices({ candidates: [] }));
    expect(none.error).toMatch(/candidates: the list is empty/);
  });

  it('a broken table gives a plain message, not a stack trace', () => {
    const broken = deriveTable([{ name: 'broken.json', text: '{"model": ' }], null)!;
    expect(broken.value).toBeNull();
    expect(broken.error).toMatch(/^broken\.json: not valid JSON/);
    expect(broken.error).not.toMatch(/Unexpected error/);
  });
});

describe('candidates grouped by base model', () => {
  const text = ['Model,Base Model,a,b,c', 'ft-1,llama,1,2,3', 'ft-2,mistral,2,1,5', 'ft-3,llama,3,5,4', 'ft-4,,4,3,1'].join('\n');
  const files = [{ name: 'open.csv', text }];
  const table = parseScoreTable(files);

  it('groups by the base-model column the engine found', () => {
    const found = baseModelsOf(table)!;
    expect(found.column).toBe('Base Model');
    const bases = found.byModel;
    expect(bases.get('ft-1')).toBe('llama');
    expect(bases.get('ft-4')).toBe('');
    expect(groupModels(table.models, bases)).toEqual([
      { base: 'llama', models: ['ft-1', 'ft-3'] },
      { base: 'mistral', models: ['ft-2'] },
      { base: NO_BASE, models: ['ft-4'] },
    ]);
  });

  it('one group when there is no base column (BFCL)', () => {
    const bfcl = parseScoreTable(bfclFile);
    expect(baseModelsOf(bfcl)).toBeNull();
    expect(groupModels(['a', 'b'], null)).toEqual([{ base: null, models: ['a', 'b'] }]);
  });

  it('search matches every word, case-insensitively', () => {
    expect(matchesSearch('xLAM-2-70b-fc-r (FC)', '70b xlam')).toBe(true);
    expect(matchesSearch('xLAM-2-70b-fc-r (FC)', '70b watt')).toBe(false);
    expect(matchesSearch('anything', '  ')).toBe(true);
  });

  it('toggling keeps table order', () => {
    const order = ['a', 'b', 'c', 'd'];
    expect(toggleIn(['c'], ['a'], true, order)).toEqual(['a', 'c']);
    expect(toggleIn(['a', 'c'], ['a', 'd'], false, order)).toEqual(['c']);
    expect(toggleIn(['d'], ['b', 'c'], true, order)).toEqual(['b', 'c', 'd']);
  });
});

describe('weights proposed with the experts', () => {
  const experts = ['x', 'w', 'c'];
  it('uniform without trials', () => {
    expect(proposedWeights(experts, null)).toEqual({ weights: [1 / 3, 1 / 3, 1 / 3], source: 'uniform' });
  });
  it('the best trial\'s weights, in the experts\' order and normalised, when it is a soup of exactly these experts', () => {
    const p = proposedWeights(experts, { weights: { c: 0.4, x: 1.0, w: 0.6 }, objective: 80 });
    expect(p.source).toBe('best trial');
    expect(p.weights[0]).toBeCloseTo(0.5, 12);
    expect(p.weights[1]).toBeCloseTo(0.3, 12);
    expect(p.weights[2]).toBeCloseTo(0.2, 12);
  });
  it('uniform when the best trial weighs other models or misses an expert', () => {
    expect(proposedWeights(experts, { weights: { x: 0.5, w: 0.5, other: 0 }, objective: 1 }).source).toBe('uniform');
    expect(proposedWeights(experts, { weights: { x: 0.3, w: 0.3, c: 0.2, other: 0.2 }, objective: 1 }).source).toBe('uniform');
    expect(proposedWeights(experts, { weights: { x: 0.3, w: 0.3, c: 0.4 }, objective: 1 }).source).toBe('best trial');
  });
});
