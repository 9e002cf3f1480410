import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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
}, 60_000);

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
});
