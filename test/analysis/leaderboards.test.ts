import { describe, expect, it } from 'vitest';
import { analyze, checkCompatibility, findTwins, groupProblems, lowerIsBetterName, parseScoreTable, sparseColumns, summarizeProblems } from '../../src/analysis';
import { BFCL_V4_LEAVES, BFCL_V4_LOWER_IS_BETTER, bfclV4Csv, OLL_BENCHMARKS, OLL_FAMILIES, openLlmLeaderboardCsv } from './leaderboards';

describe('columns that are not "higher is better" categories', () => {
  it('names: deltas, deviations, errors, losses are lower-is-better; categories that merely mention such words are not', () => {
    for (const name of [
      'Format Sensitivity Max Delta',
      'Format Sensitivity Standard Deviation',
      'Std Dev',
      'WER',
      'Word Error Rate',
      'Perplexity',
      'eval loss',
      'Hallucination rate',
      'Toxicity ↓',
      'Score diff',
    ])
      expect(lowerIsBetterName(name), name).toMatch(/^lower is better: the name says/);
    for (const name of ['Error Handling', 'DROP', 'Irrelevance Detection', 'Multi Turn Long Context', 'Difficulty', 'Live Parallel AST', 'MMLU-PRO'])
      expect(lowerIsBetterName(name), name).toBeNull();
  });

  it('sparse: a column filled for under half as many models as the median column; tiny tables are never judged', () => {
    const full = Array.from({ length: 109 }, (_, i) => i);
    const sparse = full.map((v, i) => (i < 40 ? v : null));
    const half = full.map((v, i) => (i < 60 ? v : null));
    expect([...sparseColumns([full, full, sparse, half]).entries()]).toEqual([[2, 'sparse: filled for 40 of 109 models, where the other columns have all']]);
    const tiny = [[1, 2, 3, 4], [1, null, null, null], [4, 3, 2, 1]];
    expect(sparseColumns(tiny).size).toBe(0);
  });

  it('BFCL v4: the format-sensitivity columns (lower is better, 40 of 109 models) are left out, with the reasons in the notes', () => {
    const gen = bfclV4Csv();
    const t = parseScoreTable({ name: 'data_overall.csv', text: gen.csv });
    expect(t.models).toHaveLength(109);
    expect(gen.withFormatSensitivity).toHaveLength(40);
    expect(t.categories).toEqual(BFCL_V4_LEAVES);
    for (const name of BFCL_V4_LOWER_IS_BETTER) {
      const col = t.columns.find((c) => c.name === name)!;
      expect(col.kind).toBe('lower-is-better');
      expect(col.reason).toContain('filled for 40 of 109 models');
      expect(col.reason).toMatch(/runs against "Overall Acc" \(ρ -0\.\d\d\)/);
      const note = t.problems.find((p) => p.column === name)!;
      expect(note).toMatchObject({ severity: 'info', code: 'set-aside' });
      expect(note.message).toMatch(new RegExp(`^column "${name}" is left out of the categories: lower is better: the name says .*; choose it to use it anyway$`));
    }
    expect(t.columns.find((c) => c.name === 'Format Sensitivity Max Delta')!.reason).toContain('the name says a difference (delta) ("Max Delta")');
    expect(t.columns.find((c) => c.name === 'Format Sensitivity Standard Deviation')!.reason).toContain('("Standard Deviation")');
    // The aggregates are still found: the sparse columns do not starve the weighted-mean fit.
    expect(t.aggregates).toEqual(['Overall Acc', 'Non-Live AST Acc', 'Live Acc', 'Multi Turn Acc', 'Web Search Acc', 'Memory Acc']);
  });

  it('BFCL v4: as categories they would make the worst model an expert; left out, the grid is a real search', () => {
    const gen = bfclV4Csv();
    const t = parseScoreTable({ name: 'data_overall.csv', text: gen.csv });
    const result = analyze(t);
    // The model with the largest delta, found from the generator's own numbers: the most format-sensitive.
    const worst = gen.models[gen.maxDelta.reduce<number>((best, v, i) => (v !== null && v > (gen.maxDelta[best] ?? -Infinity) ? i : best), 0)];
    expect(result.expertSet).not.toContain(worst);
    expect(result.grid.points.length).toBeGreaterThan(1);
    expect(result.warnings.join('\n')).not.toMatch(/only the uniform soup/);
    // The user can still choose them: then "Max Delta"'s expert is that model, which is why they are out by default.
    const chosen = parseScoreTable({ name: 'data_overall.csv', text: gen.csv }, { categories: [...BFCL_V4_LEAVES, ...BFCL_V4_LOWER_IS_BETTER] });
    const withThem = analyze(chosen, { tau: 1 });
    expect(withThem.paper.picks.find((p) => p.key === 'Format Sensitivity Max Delta')!.model).toBe(worst);
    expect(chosen.columns.find((c) => c.name === 'Format Sensitivity Max Delta')!.reason).toContain('used as a category because --categories names it');
  });

  it('a category running against the overall score stays a category, with a note', () => {
    const lines = ['Model,Overall Acc,Maths,Code,Refusal'];
    for (let i = 0; i < 30; i++) {
      const maths = 40 + ((i * 7) % 30);
      const code = 30 + ((i * 11) % 40);
      const refusal = 100 - (maths + code) / 2 + ((i * 5) % 3);
      lines.push([`m${i}`, ((maths + code + refusal) / 3).toFixed(2), maths, code, refusal].join(','));
    }
    const t = parseScoreTable({ name: 'a.csv', text: lines.join('\n') });
    expect(t.categories).toEqual(['Maths', 'Code', 'Refusal']);
    const note = t.problems.find((p) => p.code === 'direction');
    expect(note?.message).toMatch(/^category "Refusal" runs against "Overall Acc" \(ρ -0\.\d\d\): if lower is better there, leave it out/);
  });
});

describe('twins of one benchmark', () => {
  it('Open LLM Leaderboard v2: the normalised columns are the categories, each "Raw" copy is a twin left out', () => {
    const gen = openLlmLeaderboardCsv();
    const t = parseScoreTable({ name: 'contents.csv', text: gen.csv });
    expect(t.categories).toEqual(OLL_BENCHMARKS.map((b) => b.name));
    for (const b of OLL_BENCHMARKS) {
      const raw = t.columns.find((c) => c.name === `${b.name} Raw`)!;
      expect(raw.kind).toBe('twin');
      expect(raw.reason).toMatch(new RegExp(`^a twin of "${b.name}" \\(the same benchmark in another form; Spearman ρ (0\\.9\\d\\d|1\\.000)\\): kept "${b.name}"$`));
    }
    expect(t.aggregates).toEqual(['Average ⬆️']);
    for (const meta of ['Hub ❤️', '#Params (B)', 'CO₂ cost (kg)', 'Generation']) expect(t.columns.find((c) => c.name === meta)!.kind).toBe('metadata');
    // Paper mode finds its experts once the twins are gone.
    const result = analyze(t);
    expect(result.lowCorrelation.length).toBeGreaterThan(0);
    expect(result.expertSet.length).toBeGreaterThan(1);
  });

  it('names alone are not enough: like-named columns that rank models differently are both kept', () => {
    const names = ['Score', 'Score (raw)', 'Other', 'Other normalized'];
    const a = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = a.map((i) => (i * 7) % 20);
    const twins = findTwins(names, [a, shuffled, a, a.map((v) => v * 2 + 1)]);
    expect(twins).toEqual([{ kept: 3, dropped: 2, rho: 1 }]);
  });

  it('3,000-row tables: dozens of repeated names are summarised by kind', () => {
    const gen = openLlmLeaderboardCsv();
    const t = parseScoreTable({ name: 'contents.csv', text: gen.csv });
    expect(gen.repeated).toBe(40);
    expect(t.models).toHaveLength(3_060);
    const warnings = t.problems.filter((p) => p.severity === 'warning');
    expect(warnings).toHaveLength(40);
    expect(summarizeProblems(warnings)).toBe('40 problems: 40 repeated model names (the first row of each is kept)');
    const mixed = [...warnings, { severity: 'warning' as const, message: 'something else' }, { severity: 'warning' as const, code: 'not-a-number' as const, message: 'x' }];
    expect(groupProblems(mixed).map((g) => [g.label, g.problems.length])).toEqual([
      ['repeated model names (the first row of each is kept)', 40],
      ['cell that is not a number (treated as missing)', 1],
      ['other problem', 1],
    ]);
  });
});

describe('what can be souped', () => {
  it('the table\'s Base Model / Architecture / #Params columns are read, and experts across families are refused', () => {
    const gen = openLlmLeaderboardCsv();
    const t = parseScoreTable({ name: 'contents.csv', text: gen.csv });
    expect(t.lineage.baseModel?.column).toBe('Base Model');
    expect(t.lineage.architecture?.column).toBe('Architecture');
    expect(t.lineage.params?.column).toBe('#Params (B)');
    const all = analyze(t);
    const bases = new Set(all.expertSet.map((m) => gen.baseOf.get(m)));
    expect(bases.size).toBeGreaterThan(1);
    expect(all.compatibility.verdict).toBe('refuse');
    expect(all.compatibility.messages[0]).toMatch(/^the experts have different architectures \("Architecture": .*\): their weights cannot be averaged$/);
    expect(all.compatibility.messages.some((m) => m.startsWith('the experts come from different base models ("Base Model": '))).toBe(true);
    // Candidates of one base model: one family, nothing to say.
    const family = OLL_FAMILIES[0];
    const candidates = gen.models.filter((m) => gen.baseOf.get(m) === family.base);
    const one = analyze(t, { candidates });
    expect(one.expertSet.every((m) => gen.baseOf.get(m) === family.base)).toBe(true);
    expect(one.compatibility).toEqual({ verdict: 'ok', messages: [] });
  });

  it('different bases of one architecture and size warn; sizes within rounding pass; no columns, no verdict', () => {
    const models = ['a', 'b', 'c'];
    const lineage = {
      baseModel: { column: 'Base Model', values: ['org/base-1', 'org/base-2', ''] },
      architecture: { column: 'Architecture', values: ['LlamaForCausalLM', 'LlamaForCausalLM', 'LlamaForCausalLM'] },
      params: { column: '#Params (B)', values: [8.03, 8.05, 8.03] },
    };
    expect(checkCompatibility(lineage, models, ['a', 'b'])).toEqual({
      verdict: 'warn',
      messages: [
        'the experts come from different base models ("Base Model": org/base-1 ("a"); org/base-2 ("b")): a soup averages fine-tunes of one base model; check that these share one, or choose candidates of one base',
      ],
    });
    expect(checkCompatibility(lineage, models, ['a', 'c'])).toEqual({ verdict: 'warn', messages: ['the table gives no base model for "c"'] });
    const sizes = { params: { column: 'Size', values: [7.0, 8.0, 7.05] } };
    expect(checkCompatibility(sizes, models, ['a', 'c']).verdict).toBe('ok');
    expect(checkCompatibility(sizes, models, ['a', 'b']).messages).toEqual(['the experts have different sizes ("Size": 7 ("a"); 8 ("b")): their weights cannot be averaged']);
    expect(checkCompatibility({}, models, ['a', 'b'])).toEqual({ verdict: 'unknown', messages: [] });
  });
});
