import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';

// Issue 22 §4 / issue 23 "Search status that is not true", on the CLI: the progress counts every point of
// the run from its first line, the report says how the items were split, and a plan whose only point is
// the uniform soup (also a baseline) still has a best soup.
let dir: string;
let models: string;
let tasks: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-status-'));
  for (const [name, delta] of [['alpha', 41], ['beta', 42], ['gamma', 43]] as const) {
    await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 14, deltaSeed: delta, deltaScale: 0.3, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  }
  models = ['alpha', 'beta', 'gamma'].map((m) => `${m}=${join(dir, m)}`).join(';');
  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
  tasks = join(dir, 'facts.jsonl');
  writeFileSync(join(dir, 'prose.jsonl'), TEXT.split('. ').map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights, and the soup can be better than each of them.';

const pointLines = (err: string) => [...err.matchAll(/^point (\d+)\/(\d+)(?:, ETA (\d+) s)?:/gm)].map((m) => ({ done: Number(m[1]), planned: Number(m[2]), eta: m[3] === undefined ? undefined : Number(m[3]) }));

describe('souplab search: what it says about its run', () => {
  it('three models, step 0.5: the grid is the uniform soup; counted from the first point, it is the best soup of the plan; --tune-share 1 is no split', async () => {
    const io = captureIO();
    const out = join(dir, 'three');
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--step', '0.5', '--tune-share', '1', '--out', out], io)).toBe(0);
    // 3 singles + the uniform soup of all (the whole plan) + 3 pairs (Shapley's coalitions) = 7 points.
    const lines = pointLines(io.err());
    expect(lines.map((l) => l.done)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(lines.every((l) => l.planned === 7)).toBe(true);
    // Nothing is left after the last point.
    expect(lines.at(-1)!.eta).toBe(0);
    expect(io.out()).not.toContain('best soup   none');
    const evidence = JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8')) as { best: { weights: number[] } | null; baselines: { uniformAll: { weights: number[] } } };
    expect(evidence.best).not.toBeNull();
    expect(evidence.best!.weights).toEqual(evidence.baselines.uniformAll.weights);
    expect(io.out()).toMatch(/searched 1 points \(grid\)/);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).not.toContain('50/50');
    expect(report).toContain('no held-out split (tune share 1)');
    expect(report).not.toMatch(/\*\*best soup\*\* \| not evaluated/);
  });

  it('two models, step 0.5: the 0.5/0.5 point is the best soup; a 0.8 tune share is said as such', async () => {
    const io = captureIO();
    const out = join(dir, 'two');
    const two = models.split(';').slice(0, 2).join(';');
    expect(await runCli(['search', '--models', two, '--tasks', tasks, '--backend', 'cpu', '--step', '0.5', '--tune-share', '0.8', '--out', out], io)).toBe(0);
    expect(io.out()).toMatch(/best soup {3}alpha 0\.5, beta 0\.5:/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('a seeded 80/20 split per task file, seed 0');
    expect(readFileSync(join(out, 'best.yaml'), 'utf8')).toMatch(/merge_method: linear/);
  });

  it('the objective sums like with like: a perplexity category enters as the per-byte probability in %, as souplab eval measures it', async () => {
    const io = captureIO();
    const out = join(dir, 'mixed');
    const mixed = `${tasks},${join(dir, 'prose.jsonl')}`;
    expect(await runCli(['search', '--models', models, '--tasks', mixed, '--backend', 'cpu', '--step', '0.5', '--tune-share', '1', '--out', out, '--quiet'], io)).toBe(0);
    const trials = readFileSync(join(out, 'trials.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { weights: number[]; tune: Record<string, number>; objective: number });
    const alpha = trials.find((t) => t.weights[0] === 1)!;
    // The same model scored by souplab eval (a separate command): its bits/byte on every text.
    const evalIO = captureIO();
    expect(await runCli(['eval', join(dir, 'alpha'), '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--quiet'], evalIO)).toBe(0);
    const bpb = Number(/; ([\d.]+) bits\/byte/.exec(evalIO.out())![1]);
    // eval prints bits/byte rounded: compare to its precision.
    expect(Math.abs(alpha.tune.prose - 100 * 2 ** -bpb) / Math.abs(alpha.tune.prose)).toBeLessThan(1e-3);
    for (const t of trials) {
      expect(t.tune.prose).toBeGreaterThan(0);
      expect(t.tune.prose).toBeLessThanOrEqual(100);
      expect(t.objective).toBeCloseTo(t.tune.facts + t.tune.prose, 9);
    }
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('perplexity as the mean per-byte probability 100 · 2^(−bits/byte) (%)');
  });
});
