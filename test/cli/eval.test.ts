import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-eval-'));
  await writeTinyModel(join(dir, 'base'), { architecture: 'llama', seed: 11 });
  await writeTinyModel(join(dir, 'ft-a'), { architecture: 'llama', seed: 11, deltaSeed: 21, dtype: 'BF16' });
  await writeTinyModel(join(dir, 'ft-b'), { architecture: 'llama', seed: 11, deltaSeed: 22, dtype: 'BF16' });
  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
  writeFileSync(join(dir, 'prose.txt'), 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights.\n');
  writeFileSync(join(dir, 'recipe.yaml'), 'merge_method: linear\nmodels:\n  - model: ft-a\n    parameters: {weight: 0.7}\n  - model: ft-b\n    parameters: {weight: 0.3}\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('souplab eval', () => {
  it('--json prints exactly the documented shape', async () => {
    const io = captureIO();
    const code = await runCli(['eval', join(dir, 'base'), '--tasks', `${join(dir, 'facts.jsonl')},${join(dir, 'prose.txt')}`, '--backend', 'cpu', '--json'], io);
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(io.out()) as { model: string; backend: string; tasks: Record<string, unknown>[] };
    expect(Object.keys(json)).toEqual(['model', 'backend', 'tasks']);
    expect(json.backend).toBe('cpu');
    const [mc, ppl] = json.tasks;
    expect(Object.keys(mc)).toEqual(['name', 'kind', 'acc', 'acc_norm', 'items']);
    expect(mc).toMatchObject({ name: 'facts', kind: 'multiple_choice' });
    const items = mc.items as Record<string, unknown>[];
    expect(items.length).toBe(MC_ITEMS.length);
    for (const [i, it] of items.entries()) {
      expect(Object.keys(it)).toEqual(['loglikelihoods', 'gold', 'pred', 'pred_norm']);
      expect((it.loglikelihoods as number[]).length).toBe(MC_ITEMS[i].choices.length);
      expect(it.gold).toBe(MC_ITEMS[i].gold);
    }
    expect(Object.keys(ppl)).toEqual(['name', 'kind', 'perplexity', 'tokens', 'nll']);
    expect(ppl).toMatchObject({ name: 'prose', kind: 'perplexity' });
    expect(Math.exp((ppl.nll as number) / (ppl.tokens as number))).toBeCloseTo(ppl.perplexity as number, 9);
  });

  it('a recipe is souped in memory and scores exactly as the soup `souplab merge` writes', async () => {
    const tasks = `${join(dir, 'facts.jsonl')},${join(dir, 'prose.txt')}`;
    const inMemory = captureIO();
    expect(await runCli(['eval', join(dir, 'recipe.yaml'), '--tasks', tasks, '--backend', 'cpu', '--json'], inMemory)).toBe(0);
    const merged = captureIO();
    expect(await runCli(['merge', join(dir, 'recipe.yaml'), '--out', join(dir, 'soup'), '--backend', 'cpu', '--quiet'], merged)).toBe(0);
    const fromFile = captureIO();
    expect(await runCli(['eval', join(dir, 'soup'), '--tasks', tasks, '--backend', 'cpu', '--json'], fromFile)).toBe(0);
    const a = JSON.parse(inMemory.out()) as { tasks: unknown[] };
    const b = JSON.parse(fromFile.out()) as { tasks: unknown[] };
    expect(a.tasks).toEqual(b.tasks);
    // And the soup is not one of its ingredients.
    const alone = captureIO();
    await runCli(['eval', join(dir, 'ft-a'), '--tasks', tasks, '--backend', 'cpu', '--json'], alone);
    expect((JSON.parse(alone.out()) as { tasks: unknown[] }).tasks).not.toEqual(a.tasks);
  });

  it('bad items: one line each naming the file and line, exit 2, the sound items still scored', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, [JSON.stringify(MC_ITEMS[0]), JSON.stringify({ query: 'x' }), JSON.stringify({ query: 'y', choices: ['a', 'b'], gold: 5 }), JSON.stringify(MC_ITEMS[1])].join('\n'));
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const io = captureIO();
    const code = await runCli(['eval', join(dir, 'base'), '--tasks', `${bad},${empty}`, '--backend', 'cpu', '--json'], io);
    expect(code).toBe(2);
    expect(io.err().trim().split('\n')).toEqual([`${bad} line 2: no choices`, `${bad} line 3: "gold" 5 is out of range for 2 choices (0–1)`, `${empty}: empty file: no items`]);
    const json = JSON.parse(io.out()) as { tasks: { name: string; items: unknown[] }[] };
    expect(json.tasks.map((t) => [t.name, t.items.length])).toEqual([['bad', 2]]);
  });

  it('a text longer than the context (--max-length) is named; usage errors exit 2', async () => {
    const io = captureIO();
    expect(await runCli(['eval', join(dir, 'base'), '--tasks', join(dir, 'facts.jsonl'), '--backend', 'cpu', '--max-length', '6'], io)).toBe(2);
    expect(io.err()).toMatch(/facts\.jsonl line 1: query \+ choice 0 are \d+ tokens, longer than the model's context of 6/);
    const usage = captureIO();
    expect(await runCli(['eval', join(dir, 'base')], usage)).toBe(2);
    expect(usage.err()).toMatch(/--tasks is required/);
  });

  it('Ctrl-C cancels: exit 130, nothing printed as a result', async () => {
    const io = captureIO();
    io.controller.abort();
    expect(await runCli(['eval', join(dir, 'recipe.yaml'), '--tasks', join(dir, 'facts.jsonl'), '--backend', 'cpu', '--json'], io)).toBe(130);
    expect(io.out()).toBe('');
    expect(io.err()).toMatch(/souplab eval: cancelled/);
  });

  it('--backend webgpu (Dawn) scores as the CPU does', async () => {
    const args = ['eval', join(dir, 'recipe.yaml'), '--tasks', `${join(dir, 'facts.jsonl')},${join(dir, 'prose.txt')}`, '--json'];
    const gpu = captureIO();
    expect(await runCli([...args, '--backend', 'webgpu'], gpu)).toBe(0);
    const cpu = captureIO();
    expect(await runCli([...args, '--backend', 'cpu'], cpu)).toBe(0);
    type Out = { backend: string; tasks: { items?: { loglikelihoods: number[] }[]; nll?: number }[] };
    const g = JSON.parse(gpu.out()) as Out;
    const c = JSON.parse(cpu.out()) as Out;
    expect(g.backend).toBe('webgpu');
    g.tasks[0].items!.forEach((it, i) => it.loglikelihoods.forEach((ll, k) => expect(ll).toBeCloseTo(c.tasks[0].items![i].loglikelihoods[k], 2)));
    expect(g.tasks[1].nll!).toBeCloseTo(c.tasks[1].nll!, 1);
  }, 300_000);
});
