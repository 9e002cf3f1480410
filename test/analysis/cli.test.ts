import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MAX_CATEGORIES } from '../../src/analysis/analyze';
import { BFCL_V4_LEAVES, BFCL_V4_LOWER_IS_BETTER, bfclV4Csv, openLlmLeaderboardCsv } from './leaderboards';
import { cli as run } from '../support/cliInProcess';

const bfcl = fileURLToPath(new URL('../../../shared/data/bfcl-v3/data_overall.csv', import.meta.url));
const CANDIDATES = 'xLAM-2-70b-fc-r (FC);watt-tool-70B (FC);CoALM-70B';
const tmp = mkdtempSync(join(tmpdir(), 'souplab-analysis-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('souplab analyze', () => {
  it('--json has the documented keys first, aligned matrices and the paper result on BFCL', async () => {
    const { code, stdout, stderr } = await run(['analyze', bfcl, '--tau', '0.2', '--candidates', CANDIDATES, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(Object.keys(out).slice(0, 8)).toEqual(['categories', 'pearson', 'n', 'lowCorrelation', 'clusters', 'experts', 'expertSet', 'grid']);
    const k = out.categories.length;
    expect(k).toBe(14);
    expect(out.pearson).toHaveLength(k);
    for (const row of out.pearson) expect(row).toHaveLength(k);
    expect(out.n[0][0]).toBe(120);
    expect(out.clusters.flat().sort()).toEqual([...out.categories].sort());
    expect(Object.keys(out.experts)).toEqual(out.lowCorrelation);
    expect([...out.expertSet].sort()).toEqual(CANDIDATES.split(';').sort());
    expect(out.grid).toHaveLength(37);
    expect(out.grid[36]).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it('clusters mode keys experts by cluster label; nulls for undefined correlations', async () => {
    const file = join(tmp, 'hand.csv');
    writeFileSync(file, 'model,math,code,chat,flat\nbase,10,10,30,5\nmathy,90,80,60,5\ncoder,80,95,45,5\ntalker,20,25,85,5\n');
    const { code, stdout } = await run(['analyze', file, '--mode', 'clusters', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.pearson[3]).toEqual([null, null, null, null]);
    expect(out.clusters).toEqual([['math', 'code'], ['chat'], ['flat']]);
    expect(Object.keys(out.experts)).toEqual(['math (+1)', 'chat', 'flat']);
  });

  it('prints a readable report by default', async () => {
    const { code, stdout } = await run(['analyze', bfcl, '--candidates', CANDIDATES]);
    expect(code).toBe(0);
    expect(stdout).toContain('121 models, 14 categories; aggregates left out: Overall Acc, Non-Live AST Acc, Live Acc, Multi Turn Acc');
    expect(stdout).toMatch(/Expert set \(3\): /);
    expect(stdout).toContain('Irrelevance Detection: CoALM-70B 85.63');
    expect(stdout).toContain('Weight grid: 37 soups');
  });

  it('says which rule built L: ρ < τ by default, |ρ| < τ with --rule absolute; an unknown rule is refused', async () => {
    const file = join(tmp, 'anti.csv');
    writeFileSync(file, 'Model,chat,tools\nalpha,90,20\nbeta,50,20\ngamma,10,80\nother-1,40,30\nother-2,60,56\n');
    const signed = await run(['analyze', file]);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toContain("τ = 0.2; L's rule: ρ < τ (a weakly or negatively correlated partner; --rule absolute for |ρ| < τ)");
    expect(signed.stdout).toContain('Set L (ρ < 0.2 with some category): 2 of 2');
    expect(signed.stdout).toContain('chat: ρ -0.70 with tools');
    expect(signed.stdout).toContain('Expert set (2): alpha; gamma');
    const absolute = await run(['analyze', file, '--rule', 'absolute', '--json']);
    expect(absolute.code).toBe(0);
    const out = JSON.parse(absolute.stdout);
    expect(out.rule).toBe('absolute');
    expect(out.lowCorrelation).toEqual([]);
    expect(out.expertSet).toEqual([]);
    const bad = await run(['analyze', file, '--rule', 'abs']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--rule must be signed (ρ < τ) or absolute (|ρ| < τ), not "abs"');
  });

  it('reads a folder of lm-eval results', async () => {
    const dir = join(tmp, 'lm-eval');
    const scores: Record<string, number[]> = { a: [0.5, 0.6, 0.2], b: [0.7, 0.65, 0.1], c: [0.4, 0.5, 0.9], d: [0.6, 0.7, 0.3] };
    for (const [m, [x, y, z]] of Object.entries(scores)) {
      mkdirSync(join(dir, m), { recursive: true });
      const results = { arc: { 'acc_norm,none': x }, hellaswag: { 'acc_norm,none': y }, truthfulqa: { 'mc2,none': z } };
      writeFileSync(join(dir, m, 'results_2025.json'), JSON.stringify({ results, config: { model_args: `pretrained=org/${m}` } }));
    }
    const { code, stdout, stderr } = await run(['analyze', dir, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.categories).toEqual(['arc', 'hellaswag', 'truthfulqa']);
    expect(out.n[0][1]).toBe(4);
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const bad = await run(['analyze', bfcl, '--candidates', 'xLAM-2-70b-fc-r;CoALM-70B']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('souplab analyze: candidates: no model "xLAM-2-70b-fc-r" in the table (did you mean "xLAM-2-70b-fc-r (FC)"?)\n');
    const missing = await run(['analyze', join(tmp, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv: no such file or folder\n$/);
    expect((await run(['analyze', bfcl, '--mode', 'best'])).stderr).toBe('souplab analyze: --mode must be paper or clusters, not "best"\n');
    expect((await run(['analyze', bfcl, '--tau', 'x'])).stderr).toBe('souplab analyze: --tau needs a number, not "x"\n');
  });
});

describe('souplab grid', () => {
  const models = 'xLAM-2-70b-fc-r (FC)=/ckpt/xlam;watt-tool-70B (FC)=/ckpt/watt;CoALM-70B=/ckpt/coalm;functionary-medium-v3.1 (FC)=/ckpt/func';

  it('writes one recipe per grid point over the experts, and an index, all-or-nothing', async () => {
    const out = join(tmp, 'soups');
    const { code, stdout, stderr } = await run(['grid', bfcl, '--candidates', CANDIDATES, '--models', models, '--out', out, '--dtype', 'bfloat16']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('wrote 37 recipes and index.csv');
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(38);
    expect(files[0]).toBe('index.csv');
    const first = parse(readFileSync(join(out, 'soup-001.yaml'), 'utf8'));
    expect(first.merge_method).toBe('linear');
    expect(first.dtype).toBe('bfloat16');
    expect(first.parameters).toEqual({ normalize: true });
    // The experts are the paper's three; the 4th model's path is not used.
    expect(first.models.map((m: { model: string }) => m.model).sort()).toEqual(['/ckpt/coalm', '/ckpt/watt', '/ckpt/xlam']);
    const index = readFileSync(join(out, 'index.csv'), 'utf8').trim().split('\n');
    expect(index).toHaveLength(38);
    expect(index[0]).toMatch(/^recipe,kind,weight: /);
    // A non-empty folder is refused, and left as it was.
    const again = await run(['grid', bfcl, '--candidates', CANDIDATES, '--models', models, '--out', out, '--step', '0.25']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/the folder exists and is not empty; choose another --out or pass --force/);
    expect(readdirSync(out)).toHaveLength(38);
    // --force replaces it; no temporary folders are left beside it.
    const forced = await run(['grid', bfcl, '--candidates', CANDIDATES, '--models', models, '--out', out, '--step', '0.25', '--force']);
    expect(forced.code).toBe(0);
    expect(readdirSync(out)).toHaveLength(compositionCount3(4) + 2);
    expect(readdirSync(tmp).filter((f) => f.includes('souplab-'))).toEqual([]);
  });

  it('without --candidates, the candidates are the models given paths', async () => {
    const out = join(tmp, 'pair');
    const { code, stdout } = await run(['grid', bfcl, '--models', 'CoALM-70B=/c;xLAM-2-70b-fc-r (FC)=/x', '--out', out, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.experts.map((e: { name: string }) => e.name).sort()).toEqual(['CoALM-70B', 'xLAM-2-70b-fc-r (FC)']);
    expect(report.recipes).toHaveLength(10);
  });

  it('Ctrl-C leaves nothing behind', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const out = join(tmp, 'cancelled');
    const { code, stderr } = await run(['grid', '--models', 'a=/m/a;b=/m/b', '--out', out], ctrl.signal);
    expect(code).toBe(130);
    expect(stderr).toBe('souplab grid: cancelled\n');
    expect(readdirSync(tmp).filter((f) => f.includes('cancelled'))).toEqual([]);
  });

  it('names experts without a checkpoint path', async () => {
    const { code, stderr } = await run(['grid', bfcl, '--candidates', CANDIDATES, '--models', 'CoALM-70B=/c', '--out', join(tmp, 'x')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/no checkpoint path for experts "[^"]+", "[^"]+": add "[^"]+=\/path\/to\/checkpoint" to --models/);
    expect(readdirSync(tmp)).not.toContain('x');
  });

  it('without a table, grids the given models in order', async () => {
    const out = join(tmp, 'two');
    const { code, stdout } = await run(['grid', '--models', 'a=/m/a;b=/m/b', '--out', out, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.recipes).toHaveLength(10);
    expect(report.recipes[9]).toEqual({ file: 'soup-010.yaml', weights: [0.5, 0.5], uniform: true });
    const y = parse(readFileSync(join(out, 'soup-003.yaml'), 'utf8'));
    expect(y.models).toEqual([
      { model: '/m/a', parameters: { weight: 0.3 } },
      { model: '/m/b', parameters: { weight: 0.7 } },
    ]);
    expect((await run(['grid', '--models', 'a/m/a', '--out', out])).stderr).toMatch(/"a\/m\/a" should be name=path/);
  });
});

/** Compositions of 4 quarter-steps into 3 positive parts: C(3, 2) = 3. */
function compositionCount3(steps: number): number {
  return ((steps - 1) * (steps - 2)) / 2;
}

describe('souplab analyze --trials: the loop back from evaluated soups', () => {
  const table = 'model,math,code,chat,flat\nbase,10,10,30,5\nmathy,90,80,60,5\ncoder,80,95,45,5\ntalker,20,25,85,5\n';
  // A made-up response surface over normalised weights (mathy, coder, talker), with an interaction term.
  const surface = (w: number[]) => ({ math: 60 + 30 * w[0] - 5 * w[2], code: 50 + 40 * w[1], chat: 40 + 50 * w[2] + 10 * w[0] * w[1], flat: 5 });
  const objective = (w: number[]) => Object.values(surface(w)).reduce((a, b) => a + b, 0);

  it('grid → fill in scores → ranking, baselines and exact Shapley values', async () => {
    const tableFile = join(tmp, 'hand-scores.csv');
    writeFileSync(tableFile, table);
    const out = join(tmp, 'loop');
    expect((await run(['grid', tableFile, '--models', 'mathy=/m;coder=/c;talker=/t', '--out', out])).code).toBe(0);
    const lines = readFileSync(join(out, 'index.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('recipe,kind,weight: mathy,weight: coder,weight: talker');
    const filled = [`${lines[0]},math,code,chat,flat`];
    const rows: { id: string; w: number[] }[] = [];
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      const w = cells.slice(2).map(Number);
      rows.push({ id: cells[0], w });
      filled.push(`${line},${Object.values(surface(w)).join(',')}`);
    }
    // The coalitions the grid lacks: single models and uniform pairs.
    const subsets = [[0], [1], [2], [0, 1], [0, 2], [1, 2]];
    for (const sub of subsets) {
      const w = [0, 1, 2].map((i) => (sub.includes(i) ? 1 / sub.length : 0));
      const id = `only-${sub.join('-')}`;
      rows.push({ id, w });
      filled.push(`${id},extra,${w.join(',')},${Object.values(surface(w)).join(',')}`);
    }
    const trialsFile = join(tmp, 'evaluated.csv');
    writeFileSync(trialsFile, filled.join('\n') + '\n');

    const { code, stdout, stderr } = await run(['analyze', tableFile, '--trials', trialsFile, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { trials, expertSet } = JSON.parse(stdout);
    expect(expertSet).toEqual(['mathy', 'coder', 'talker']);
    const best = rows.reduce((a, b) => (objective(b.w) > objective(a.w) ? b : a));
    expect(trials.ranking.best.id).toBe(best.id);
    expect(trials.ranking.best.objective).toBeCloseTo(objective(best.w), 10);
    expect(trials.ranking.objectiveColumns).toEqual(['math', 'code', 'chat', 'flat']);
    const singles = rows.filter((r) => r.w.filter((x) => x > 0).length === 1);
    const bestSingle = singles.reduce((a, b) => (objective(b.w) > objective(a.w) ? b : a));
    expect(trials.ranking.baselines.bestSingle.id).toBe(bestSingle.id);
    expect(trials.ranking.baselines.uniformAll.id).toBe('soup-037.yaml');
    expect(trials.ranking.baselines.uniformExperts.id).toBe('soup-037.yaml');
    // From the score table itself: mathy has the largest sum over the four categories (90+80+60+5).
    expect(trials.ranking.baselines.bestSingleInScores).toEqual({ model: 'mathy', objective: 90 + 80 + 60 + 5 });

    // Shapley by the permutation definition: the average marginal gain over all 6 orders.
    const v = (members: number[]) => (members.length === 0 ? 0 : objective([0, 1, 2].map((i) => (members.includes(i) ? 1 / members.length : 0))));
    const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    const phi = [0, 1, 2].map((p) => orders.reduce((acc, o) => {
      const before = o.slice(0, o.indexOf(p));
      return acc + v([...before, p]) - v(before);
    }, 0) / orders.length);
    expect(trials.shapley.exact).toBe(true);
    trials.shapley.values.forEach((x: number, i: number) => expect(x).toBeCloseTo(phi[i], 9));

    // Without the extra rows, the missing coalitions are named.
    const partial = join(tmp, 'partial.csv');
    writeFileSync(partial, filled.slice(0, 38).join('\n') + '\n');
    const human = await run(['analyze', '--trials', partial]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Shapley values need every uniform soup; 6 missing: {mathy} {coder} {mathy, coder} {talker} {mathy, talker} {coder, talker}');
    const bestOnGrid = rows.slice(0, 37).reduce((a, b) => (objective(b.w) > objective(a.w) ? b : a));
    expect(human.stdout).toContain(`best trial:             ${bestOnGrid.id} `);
    expect(human.stdout).toContain('best single model:      not among the trials');
  });
});


describe('souplab analyze on leaderboards as people download them', () => {
  it('BFCL v4-like: the lower-is-better format columns are left out and listed with their reasons; --categories brings them back', async () => {
    const gen = bfclV4Csv();
    const file = join(tmp, 'bfcl-v4-overall.csv');
    writeFileSync(file, gen.csv);
    const { code, stdout, stderr } = await run(['analyze', file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`109 models, ${BFCL_V4_LEAVES.length} categories`);
    expect(stdout).toContain('Left out of the categories (name them in --categories to use them):');
    expect(stdout).toMatch(/ {2}- Format Sensitivity Max Delta: lower is better: the name says a difference \(delta\) \("Max Delta"\); filled for 40 of 109 models/);
    expect(stdout).toMatch(/ {2}- Format Sensitivity Standard Deviation: lower is better: the name says a spread/);
    const json = JSON.parse((await run(['analyze', file, '--categories', [...BFCL_V4_LEAVES, ...BFCL_V4_LOWER_IS_BETTER].join(','), '--json'])).stdout);
    expect(json.categories).toEqual([...BFCL_V4_LEAVES, ...BFCL_V4_LOWER_IS_BETTER]);
  });

  it('Open-LLM-Leaderboard-like, 3,100 rows: twins left out, 40 repeated names summarised, and experts of different architectures refused', async () => {
    const gen = openLlmLeaderboardCsv();
    const file = join(tmp, 'open-llm-leaderboard.csv');
    writeFileSync(file, gen.csv);
    const { code, stdout } = await run(['analyze', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('3060 models, 6 categories; aggregates left out: Average ⬆️');
    expect(stdout).toContain('  ! 40 problems: 40 repeated model names (the first row of each is kept); for example:');
    expect(stdout).toContain('    … 37 more like these (see --json)');
    expect(stdout.split('\n').filter((l) => l.includes('appears again'))).toHaveLength(3);
    expect(stdout).toContain('  - IFEval Raw: a twin of "IFEval"');
    expect(stdout).toMatch(/\n {2}! cannot be souped: the experts have different architectures \("Architecture": /);
    const json = JSON.parse((await run(['analyze', file, '--json'])).stdout);
    expect(json.compatibility.verdict).toBe('refuse');
    expect(json.problems.filter((p: { code?: string }) => p.code === 'repeated-model')).toHaveLength(40);
    // One family's candidates: no warning.
    const qwen = gen.models.filter((m) => gen.baseOf.get(m) === 'Qwen/Qwen2.5-7B');
    const one = await run(['analyze', file, '--candidates', qwen.join(';')]);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('cannot be souped');
    expect(one.stdout).not.toContain('! warning:');
  });
});

describe('souplab grid and what can be souped', () => {
  // ft-13 leads Maths, ft-21 Code, ft-19 Chat (the largest residues of the rule below).
  const table = (arch: (i: number) => string): string => {
    const lines = ['Model,Base Model,Architecture,#Params (B),Maths,Code,Chat'];
    for (let i = 0; i < 24; i++)
      lines.push([`ft-${i}`, i < 16 ? 'org/base-a' : 'org/base-b', arch(i), '8.03', 40 + ((i * 7) % 23), 30 + ((i * 11) % 29), 50 + ((i * 13) % 31)].join(','));
    return lines.join('\n') + '\n';
  };
  const models = 'ft-13=/ckpt/13;ft-21=/ckpt/21;ft-19=/ckpt/19';

  it('refuses experts of different architectures, writing nothing', async () => {
    const file = join(tmp, 'two-archs.csv');
    writeFileSync(file, table((i) => (i < 16 ? 'LlamaForCausalLM' : 'MistralForCausalLM')));
    const out = join(tmp, 'two-archs-grid');
    const { code, stderr } = await run(['grid', file, '--tau', '1', '--models', models, '--out', out]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^souplab grid: the experts have different architectures \("Architecture": LlamaForCausalLM \("ft-13"\); MistralForCausalLM \("ft-21", "ft-19"\)\): their weights cannot be averaged; choose candidates of one architecture and size/);
    expect(() => readdirSync(out)).toThrow();
  });

  it('warns on different base models and writes the recipes', async () => {
    const file = join(tmp, 'two-bases.csv');
    writeFileSync(file, table(() => 'LlamaForCausalLM'));
    const out = join(tmp, 'two-bases-grid');
    const { code, stderr, stdout } = await run(['grid', file, '--tau', '1', '--models', models, '--out', out]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^souplab grid: warning: the experts come from different base models \("Base Model": org\/base-a \("ft-13"\); org\/base-b \("ft-21", "ft-19"\)\)/);
    expect(stdout).toContain('wrote 37 recipes');
  });
});

describe('souplab analyze on tables it cannot analyse: one line naming the file and the problem, exit 2', () => {
  const dir = join(tmp, 'unusable');
  mkdirSync(dir, { recursive: true });
  const write = (name: string, data: string | Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  const oneLine = async (argv: string[]): Promise<string> => {
    const { code, stdout, stderr } = await run(argv);
    expect(stdout).toBe('');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^souplab analyze: [^\n]+\n$/);
    expect(stderr).not.toMatch(/need at least 2 categories|\bat \S+:\d+/);
    return stderr;
  };

  it('a header-only CSV', async () => {
    expect(await oneLine(['analyze', write('scores.csv', 'model,math,code\n')])).toMatch(/^souplab analyze: \S*scores\.csv: a header and no rows\n$/);
  });

  it('lm-eval-like JSON without "results", alone and in a folder', async () => {
    const json = JSON.stringify({ config: { model_args: 'pretrained=org/m' }, versions: {} });
    const file = write('results_x.json', json);
    expect(await oneLine(['analyze', file])).toMatch(/^souplab analyze: \S*results_x\.json: no "results" object — not an lm-evaluation-harness results file\n$/);
    mkdirSync(join(dir, 'runs', 'm1'), { recursive: true });
    writeFileSync(join(dir, 'runs', 'm1', 'results_2025.json'), json);
    expect(await oneLine(['analyze', join(dir, 'runs')])).toMatch(/results_2025\.json: no "results" object — not an lm-evaluation-harness results file\n$/);
  });

  it('a binary file', async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    expect(await oneLine(['analyze', write('model.bin', bytes)])).toMatch(/^souplab analyze: \S*model\.bin: not a text table \(binary data\)\n$/);
  });

  it(`a table wider than the category limit (${MAX_CATEGORIES}) is refused up front, naming the count and the limit`, async () => {
    // 30 models × 10,000 score columns, as a wide benchmark export looks: the analysis would need 10⁸ correlations.
    const header = ['model', ...Array.from({ length: 10_000 }, (_, j) => `task_${j}`)].join(',');
    const rows = Array.from({ length: 30 }, (_, i) => [`m${i}`, ...Array.from({ length: 10_000 }, (_, j) => (((i + 1) * (j + 7) * 7919) % 1000) / 10)].join(','));
    const file = write('wide.csv', [header, ...rows].join('\n') + '\n');
    expect(await oneLine(['analyze', file])).toBe(
      `souplab analyze: 10000 categories, more than the ${MAX_CATEGORIES} the analysis handles; choose some with --categories or --exclude\n`,
    );
  });
});
