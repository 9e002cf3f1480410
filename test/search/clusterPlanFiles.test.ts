import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../src/cli/runCli';
import { importResults, plannedPoints, planFiles } from '../../src/search/cluster/planFiles';
import { listPoints, pointKey } from '../../src/search/points';
import type { SearchSpec } from '../../src/search/runSearch';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';
import { tempDir } from '../model/helpers';

describe('a search plan as files, and its results read back', () => {
  it('the plan of a 3-expert grid: 43 points (singles, the 36 lattice points and the uniform soup, 3 pairs) as index.csv for --plan, recipes and search.json', () => {
    const spec: SearchSpec = { models: ['a', 'b', 'c'], experts: [0, 1, 2], plan: { kind: 'grid', step: 0.1 }, metric: 'acc_norm', splitSeed: 3 };
    const files = planFiles(spec, ['/ckpt/a', '/ckpt/b', '/ckpt/c'], 'exported by a test');
    const index = files.find((f) => f.name === 'index.csv')!;
    const listed = listPoints('index.csv', index.text, spec.models);
    expect(listed).toHaveLength(43);
    expect(new Set(listed.map((p) => pointKey(p.weights)))).toEqual(new Set(plannedPoints(spec).map((p) => pointKey(p.weights))));
    expect(files.filter((f) => f.name.startsWith('recipes/'))).toHaveLength(43);
    const recipe = parse(files.find((f) => f.name === 'recipes/soup-0.1_0.2_0.7.yaml')!.text) as { merge_method: string; models: { model: string; parameters: { weight: number } }[] };
    expect(recipe.merge_method).toBe('linear');
    expect(recipe.models.map((m) => [m.model, m.parameters.weight])).toEqual([
      ['/ckpt/a', 0.1],
      ['/ckpt/b', 0.2],
      ['/ckpt/c', 0.7],
    ]);
    const json = JSON.parse(files.find((f) => f.name === 'search.json')!.text) as { experts: string[]; splitSeed: number; points: unknown[] };
    expect(json.experts).toEqual(['a', 'b', 'c']);
    expect(json.splitSeed).toBe(3);
    expect(json.points).toHaveLength(43);
  });

  it('with a tokenizer source every recipe keeps every model, weight 0 included, and says it; search.json too', () => {
    const spec: SearchSpec = { models: ['a', 'b', 'c'], experts: [0, 1, 2], plan: { kind: 'grid', step: 0.5 }, metric: 'acc_norm', splitSeed: 0 };
    const files = planFiles(spec, ['/ckpt/a', '/ckpt/b', '/ckpt/c'], 'exported by a test', 'union');
    const recipe = parse(files.find((f) => f.name === 'recipes/soup-1_0_0.yaml')!.text) as { tokenizer_source: string; models: { model: string; parameters: { weight: number } }[] };
    expect(recipe.tokenizer_source).toBe('union');
    expect(recipe.models.map((m) => [m.model, m.parameters.weight])).toEqual([
      ['/ckpt/a', 1],
      ['/ckpt/b', 0],
      ['/ckpt/c', 0],
    ]);
    expect((JSON.parse(files.find((f) => f.name === 'search.json')!.text) as { tokenizerSource: string }).tokenizerSource).toBe('union');
    // Without one, a point's recipe has the models it weighs.
    const plain = parse(planFiles(spec, ['/ckpt/a', '/ckpt/b', '/ckpt/c'], 'exported by a test').find((f) => f.name === 'recipes/soup-1_0_0.yaml')!.text) as { tokenizer_source?: string; models: unknown[] };
    expect(plain.models).toHaveLength(1);
    expect(plain.tokenizer_source).toBeUndefined();
  });

  it("a CLI search's trials.jsonl (with a failed point) gives back its evidence: best soup, baselines, Shapley values", async () => {
    const temporary = await tempDir();
    onTestFinished(temporary.remove);
    const dir = temporary.path;
    for (const [name, delta] of [['alpha', 31], ['beta', 32]] as const) await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, deltaScale: 0.3, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
    writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
    const io = captureIO();
    const out = join(dir, 'out');
    expect(await runCli(['search', '--models', `alpha=${join(dir, 'alpha')};beta=${join(dir, 'beta')}`, '--tasks', join(dir, 'facts.jsonl'), '--backend', 'cpu', '--step', '0.25', '--out', out], io)).toBe(0);
    appendFileSync(join(out, 'trials.jsonl'), `${JSON.stringify({ key: '0.1|0.9', weights: [0.1, 0.9], kinds: ['list'], failed: { attempts: 2, reason: 'TIMEOUT', logTail: 'slurmstepd: error: *** JOB 7 CANCELLED DUE TO TIME LIMIT ***' } })}\n`);
    const imported = importResults(readFileSync(join(out, 'trials.jsonl'), 'utf8'), 'trials.jsonl', { text: readFileSync(join(out, 'search.json'), 'utf8'), name: 'search.json' });
    const written = JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8')) as typeof imported.evidence;
    expect(imported.models).toEqual(['alpha', 'beta']);
    expect(imported.failed.map((f) => f.failed.reason)).toEqual(['TIMEOUT']);
    expect(imported.trials).toHaveLength(5);
    expect(imported.evidence.best).toEqual(written.best);
    expect(imported.evidence.baselines).toEqual(written.baselines);
    expect(imported.evidence.shapley).toEqual(written.shapley);
    expect(imported.evidence.categories).toEqual(['facts']);
    expect(() => importResults('{"a": 1}\n', 'x.jsonl')).toThrow(/x\.jsonl line 1: not a trial record/);
  }, 120_000);
});
