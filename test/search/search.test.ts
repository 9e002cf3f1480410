import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { readSafetensors } from '../merge/models';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';

let dir: string;
let models: string;
let tasks: string;

const TEXT = 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights, and the soup can be better than each of them.';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-'));
  // Three fine-tunes of one base, as users soup them.
  for (const [name, delta] of [['alpha', 31], ['beta', 32], ['gamma', 33]] as const) {
    await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, deltaScale: 0.3, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  }
  models = ['alpha', 'beta', 'gamma'].map((m) => `${m}=${join(dir, m)}`).join(';');
  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
  writeFileSync(join(dir, 'prose.jsonl'), TEXT.split('. ').map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  tasks = `${join(dir, 'facts.jsonl')},${join(dir, 'prose.jsonl')}`;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withoutTime = (csv: string) => csv.split('\n').map((l) => l.split(',').slice(0, -1).join(','));

describe('souplab search', () => {
  it('grid: cancelled mid-run, resumed without re-evaluating, ends with the same results as an uninterrupted run', async () => {
    const full = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'full')], full)).toBe(0);
    expect(full.err()).toMatch(/fit: 3 models .* held in memory/);
    const fullCsv = readFileSync(join(dir, 'full', 'trials.csv'), 'utf8');
    // 3 singles + uniform of all + the 36 lattice points + 3 pairs = 43 distinct soups.
    expect(fullCsv.trim().split('\n').length - 1).toBe(43);

    const first = captureIO(/point 12\/\d+/);
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'stopped')], first)).toBe(130);
    expect(first.err()).toMatch(/cancelled: \d+ trials are kept/);
    const kept = readFileSync(join(dir, 'stopped', 'trials.jsonl'), 'utf8').trim().split('\n').length;
    expect(kept).toBeGreaterThanOrEqual(12);
    expect(kept).toBeLessThan(43);
    // A stop mid-write (a kill) leaves a partial line: the resumed search drops it.
    appendFileSync(join(dir, 'stopped', 'trials.jsonl'), '{"key":"0.1|0.2');

    const again = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'stopped')], again)).toBe(2);
    expect(again.err()).toMatch(/holds results already; pass --resume/);
    const resumed = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'stopped'), '--resume'], resumed)).toBe(0);
    expect(resumed.err()).toMatch(/dropped 1 unfinished trial record/);
    expect(resumed.err()).toContain(`resume: ${kept} trials already evaluated are reused`);
    expect(resumed.out()).toContain(`(${43 - kept} evaluated now)`);
    const lines = readFileSync(join(dir, 'stopped', 'trials.jsonl'), 'utf8').trim().split('\n');
    expect(new Set(lines.map((l) => (JSON.parse(l) as { key: string }).key)).size).toBe(43);
    expect(lines.length).toBe(43);
    expect(withoutTime(readFileSync(join(dir, 'stopped', 'trials.csv'), 'utf8'))).toEqual(withoutTime(fullCsv));
    expect(readFileSync(join(dir, 'stopped', 'best.yaml'), 'utf8')).toBe(readFileSync(join(dir, 'full', 'best.yaml'), 'utf8'));

    // A resumed search with other tasks is refused.
    const other = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', join(dir, 'facts.jsonl'), '--backend', 'cpu', '--out', join(dir, 'stopped'), '--resume'], other)).toBe(2);
    expect(other.err()).toMatch(/--resume found a search of other task files/);
  }, 300_000);

  it('--estimate prints the plan\'s time from a warm-up and writes nothing; with --resume it prices the points left', async () => {
    const listing = (d: string) => (existsSync(d) ? readdirSync(d).sort().map((f) => `${f} ${statSync(join(d, f)).mtimeMs}`) : []);
    const fresh = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'estimate-only'), '--estimate'], fresh)).toBe(0);
    // 43 soups: 3 singles, the uniform soup, 36 lattice points, 3 pairs (as the whole run above evaluates).
    expect(fresh.out()).toMatch(/^estimate: 43 points × [\d.]+( K)? tokens ≈ .+ at [\d,]+ tokens\/s on CPU.* \(the evaluation alone, from a warm-up\)\n$/);
    expect(existsSync(join(dir, 'estimate-only'))).toBe(false);

    // A stopped search: the estimate counts only the points it has not evaluated, and leaves its folder as it was.
    const stopped = join(dir, 'estimate-stopped');
    const first = captureIO(/point 5\/\d+/);
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', stopped], first)).toBe(130);
    const kept = readFileSync(join(stopped, 'trials.jsonl'), 'utf8').trim().split('\n').length;
    const before = listing(stopped);
    const resumed = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', stopped, '--resume', '--estimate'], resumed)).toBe(0);
    expect(resumed.out()).toMatch(new RegExp(`^estimate: ${43 - kept} points × .*; ${kept} trials stored in .* are reused\\n$`));
    expect(listing(stopped)).toEqual(before);

    // Another search's folder is refused, as --resume refuses it.
    const other = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', join(dir, 'facts.jsonl'), '--backend', 'cpu', '--out', stopped, '--resume', '--estimate'], other)).toBe(2);
    expect(other.err()).toMatch(/--resume found a search of other task files/);
  }, 300_000);

  it('trials.csv is a trials table for souplab analyze --trials; the report has baselines, exact Shapley values and diagnostics', async () => {
    const out = join(dir, 'full');
    const io = captureIO();
    expect(await runCli(['analyze', '--trials', join(out, 'trials.csv'), '--json'], io)).toBe(0);
    const json = JSON.parse(io.out()) as { trials: { ranking: { best: { id: string; objective: number } }; shapley: { exact: boolean; values: number[] } } };
    const evidence = JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8')) as {
      best: { objective: number; weights: number[] };
      baselines: { singles: unknown[]; uniformAll: unknown };
      shapley: { values: number[] | null };
      consistency: { ingredients: { r: unknown[][] }; soups: { r: unknown[][] } };
    };
    // analyze ranks every trial (baselines too); the search's best soup is the best of its plan.
    const objectives = readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { objective: number }).objective);
    expect(json.trials.ranking.best.objective).toBeCloseTo(Math.max(...objectives), 4);
    expect(evidence.best.objective).toBeLessThanOrEqual(Math.max(...objectives));
    expect(json.trials.shapley.exact).toBe(true);
    expect(evidence.shapley.values).not.toBeNull();
    evidence.shapley.values!.forEach((v, i) => expect(v).toBeCloseTo(json.trials.shapley.values[i], 3));
    expect(evidence.baselines.singles.length).toBe(3);
    expect(evidence.baselines.uniformAll).not.toBeNull();
    expect(evidence.consistency.ingredients.r.length).toBe(2);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const h of ['## Best soup and baselines', '## Shapley values', '## Consistency', 'Solved by the best soup, failed by every one of its ingredients']) expect(report).toContain(h);
    expect(readFileSync(join(out, 'best.yaml'), 'utf8')).toMatch(/merge_method: linear/);
  });

  it('export: the best soup is written with the evidence in its metadata, equal to merging best.yaml', async () => {
    const out = join(dir, 'full');
    const io = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', out, '--resume', '--export', join(dir, 'best.safetensors')], io)).toBe(0);
    expect(io.out()).toContain('(0 evaluated now)');
    const exported = readSafetensors(readFileSync(join(dir, 'best.safetensors')));
    const provenance = JSON.parse(exported.metadata['souplab.search']) as { weights: Record<string, number>; objective: number };
    const evidence = JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8')) as { best: { objective: number } };
    expect(provenance.objective).toBe(evidence.best.objective);
    const merged = captureIO();
    expect(await runCli(['merge', join(out, 'best.yaml'), '--out', join(dir, 'best-merged.safetensors'), '--backend', 'cpu', '--quiet'], merged)).toBe(0);
    const again = readSafetensors(readFileSync(join(dir, 'best-merged.safetensors')));
    for (const [name, t] of again.tensors) expect(Buffer.compare(Buffer.from(t.data), Buffer.from(exported.tensors.get(name)!.data))).toBe(0);
  });

  it('adaptive reaches the grid best with fewer evaluations (smooth objective: perplexity)', async () => {
    const prose = join(dir, 'prose.jsonl');
    const grid = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', prose, '--backend', 'cpu', '--out', join(dir, 'ppl-grid'), '--shapley', 'none'], grid)).toBe(0);
    const adaptive = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', prose, '--backend', 'cpu', '--out', join(dir, 'ppl-adaptive'), '--plan', 'adaptive', '--shapley', 'none'], adaptive)).toBe(0);
    const best = (d: string) => (JSON.parse(readFileSync(join(dir, d, 'evidence.json'), 'utf8')) as { best: { objective: number; weights: number[] } }).best;
    expect(best('ppl-adaptive').objective).toBe(best('ppl-grid').objective);
    const points = (io: ReturnType<typeof captureIO>) => Number(/searched (\d+) points/.exec(io.out())![1]);
    expect(points(grid)).toBe(37);
    expect(points(adaptive)).toBeLessThan(37);
    expect(existsSync(join(dir, 'ppl-adaptive', 'best.yaml'))).toBe(true);
  }, 300_000);

  it('with a score table: the analysis picks the experts and the grid is over them; the baselines still cover every model', async () => {
    // By clusters: alpha leads chat, gamma the tools/math cluster; beta is not an expert.
    writeFileSync(join(dir, 'scores.csv'), 'Model,chat,tools,math\nalpha,90,10,50\nbeta,50,50,52\ngamma,10,90,51\nother-1,40,45,49\nother-2,60,20,48\n');
    const io = captureIO();
    expect(await runCli(['search', join(dir, 'scores.csv'), '--models', models, '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--out', join(dir, 'table'), '--tau', '0.5', '--mode', 'clusters', '--shapley', 'none'], io)).toBe(0);
    expect(io.err()).toMatch(/experts \(clusters mode, τ = 0\.5\): alpha, gamma/);
    // 2 experts: 9 lattice points + the uniform soup, which is also the lattice point 0.5/0.5: 9 distinct soups.
    expect(io.out()).toMatch(/searched 9 points \(grid\) over alpha, gamma/);
    const rows = readFileSync(join(dir, 'table', 'trials.csv'), 'utf8').trim().split('\n').slice(1);
    // 3 singles + the uniform soup of all + 9 grid soups.
    expect(rows.length).toBe(3 + 1 + 9);
    expect(rows.every((r) => r.split(',')[3] === '0' || /single|uniform-all/.test(r.split(',')[1]))).toBe(true);
  }, 300_000);

  it('two anti-correlated categories (ρ = −0.7): |ρ| < τ stops with no experts; the default ρ < τ searches over their experts', async () => {
    // alpha leads chat, gamma tools; ρ(chat, tools) = −0.70 over the five rows.
    writeFileSync(join(dir, 'anti.csv'), 'Model,chat,tools\nalpha,90,20\nbeta,50,20\ngamma,10,80\nother-1,40,30\nother-2,60,56\n');
    const args = ['search', join(dir, 'anti.csv'), '--models', models, '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--shapley', 'none'];
    const absolute = captureIO();
    expect(await runCli([...args, '--out', join(dir, 'anti-abs'), '--rule', 'absolute'], absolute)).not.toBe(0);
    expect(absolute.err()).toMatch(/the analysis selected no experts \(no category has \|ρ\| < 0\.2 with another/);
    expect(existsSync(join(dir, 'anti-abs', 'trials.csv'))).toBe(false);
    const signed = captureIO();
    expect(await runCli([...args, '--out', join(dir, 'anti')], signed)).toBe(0);
    expect(signed.err()).toMatch(/experts \(paper mode, τ = 0\.2, L: ρ < τ\): alpha, gamma/);
    expect(signed.out()).toMatch(/searched 9 points \(grid\) over alpha, gamma/);
  }, 300_000);

  it('--backend webgpu (Dawn): the points are souped on the GPU into the model and score as on the CPU', async () => {
    const list = join(dir, 'list.csv');
    writeFileSync(list, 'recipe,weight: alpha,weight: beta,weight: gamma\nmix,0.5,0.3,0.2\n');
    const args = ['search', '--models', models, '--tasks', join(dir, 'prose.jsonl'), '--plan', list, '--shapley', 'none'];
    const gpu = captureIO();
    expect(await runCli([...args, '--backend', 'webgpu', '--out', join(dir, 'gpu')], gpu)).toBe(0);
    expect(gpu.err()).toMatch(/fit \(GPU\): 3 models on the GPU .* resident/);
    const cpu = captureIO();
    expect(await runCli([...args, '--backend', 'cpu', '--out', join(dir, 'cpu')], cpu)).toBe(0);
    const objectives = (d: string) => readFileSync(join(dir, d, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { key: string; objective: number }));
    const g = objectives('gpu');
    const c = objectives('cpu');
    expect(g.map((t) => t.key)).toEqual(c.map((t) => t.key));
    g.forEach((t, i) => expect(t.objective).toBeCloseTo(c[i].objective, 2));

    // Told the GPU has too little memory for the ingredients: said before any point, souped on the CPU and uploaded.
    const small = captureIO();
    expect(await runCli([...args, '--backend', 'webgpu', '--gpu-memory', '0.0001', '--out', join(dir, 'gpu-small')], small)).toBe(0);
    expect(small.err()).toMatch(/fit \(GPU\): no: 3 × [\d.]+ \w+ ingredients \+ the model and its workspace \([\d.]+ \w+\) do not fit in [\d.]+ \w+ of GPU memory: each point is souped on the CPU and uploaded/);
    expect(small.err().indexOf('do not fit in')).toBeLessThan(small.err().indexOf('point 1/'));
    const s = objectives('gpu-small');
    expect(s.map((t) => t.key)).toEqual(c.map((t) => t.key));
    s.forEach((t, i) => expect(t.objective).toBeCloseTo(c[i].objective, 2));
  }, 300_000);
});

