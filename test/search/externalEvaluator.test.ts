/**
 * souplab search --evaluator-cmd on this machine (the local launcher), with evaluator commands that
 * copy a prepared lm-eval output folder: faults, refusals and the report, in seconds.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { buildCli } from '../support/builtCli';
import { captureIO, writeTinyModel } from '../eval/helpers';

let dir: string;
let models: string;

/** An lm-eval output folder as lm-eval nests it (<out>/<model>/results_…json, samples_<task>_….jsonl). */
function lmEvalFolder(name: string, tasks: Record<string, number[]>, samples: boolean): string {
  const root = join(dir, name);
  const sub = join(root, 'org__model');
  mkdirSync(sub, { recursive: true });
  const date = '2025-06-01T10-20-30.123456';
  const results = Object.fromEntries(Object.entries(tasks).map(([t, acc]) => [t, { alias: t, 'acc,none': acc.reduce((a, b) => a + b, 0) / acc.length, 'acc_stderr,none': 'N/A' }]));
  writeFileSync(join(sub, `results_${date}.json`), JSON.stringify({ results, group_subtasks: {}, higher_is_better: Object.fromEntries(Object.keys(tasks).map((t) => [t, { acc: true }])), config: { model: 'vllm', model_args: 'pretrained=x' } }));
  if (samples)
    for (const [t, acc] of Object.entries(tasks))
      writeFileSync(join(sub, `samples_${t}_${date}.jsonl`), acc.map((a, i) => JSON.stringify({ doc_id: i, doc: {}, target: '0', filter: 'none', metrics: ['acc'], acc: a })).join('\n') + '\n');
  return root;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-external-'));
  for (const [name, delta] of [['alpha', 31], ['beta', 32]] as const) await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  models = `alpha=${join(dir, 'alpha')};beta=${join(dir, 'beta')}`;
  lmEvalFolder('two-tasks', { arc: [1, 0, 1, 1, 0, 1, 0, 0], hella: [1, 1, 0, 1] }, true);
  lmEvalFolder('one-task', { arc: [1, 0, 1, 1, 0, 1, 0, 0] }, true);
  lmEvalFolder('no-samples', { arc: [1, 0, 1, 1], hella: [0, 1] }, false);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const search = async (out: string, template: string, extra: string[] = []) => {
  const io = captureIO();
  const code = await runCli(['search', '--models', models, '--step', '0.5', '--out', join(dir, out), '--backend', 'cpu', '--evaluator-cmd', template, ...extra], io);
  return { code, err: io.err(), out: io.out() };
};
const copy = (folder: string) => `test -d {model} && cp -r ${join(dir, folder)}/. {out}/`;

describe('souplab search --evaluator-cmd (local jobs)', () => {
  it('scores each point from the lm-eval folder its command wrote: tasks as categories, the held-out split by doc_id; the soup folders are gone after', async () => {
    const r = await search('ok', `test -f {model}/model.safetensors && ${copy('two-tasks')}`, ['--jobs', '2']);
    expect(r.code, r.err).toBe(0);
    const csv = readFileSync(join(dir, 'ok', 'trials.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('recipe,kind,weight: alpha,weight: beta,arc,hella,overall,held-out overall,time (s)');
    // singles, and the grid's one point at step 0.5 (the uniform soup).
    expect(csv.length - 1).toBe(3);
    const trials = readFileSync(join(dir, 'ok', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tune: Record<string, number>; heldOut: Record<string, number>; solved: Record<string, string> });
    for (const t of trials) {
      // 8 arc documents split 4 + 4, 4 hella documents 2 + 2: together the split's scores are the whole task's.
      expect((t.tune.arc + t.heldOut.arc) / 2).toBeCloseTo(50, 9);
      expect((t.tune.hella + t.heldOut.hella) / 2).toBeCloseTo(75, 9);
      expect(t.solved.arc).toBe('10110100');
    }
    expect(readFileSync(join(dir, 'ok', 'report.md'), 'utf8')).toMatch(/held-out split: by doc_id from the per-sample files/);
    for (const p of ['soup-1_0', 'soup-0_1', 'soup-0.5_0.5']) {
      expect(existsSync(join(dir, 'ok', 'work', p, 'recipe.yaml'))).toBe(true);
      expect(existsSync(join(dir, 'ok', 'work', p, 'model'))).toBe(false);
    }
  }, 120_000);

  it('without samples files: scored on all documents, and the report says there is no held-out split', async () => {
    const r = await search('unsplit', copy('no-samples'), ['--keep-soups']);
    expect(r.code, r.err).toBe(0);
    const t = JSON.parse(readFileSync(join(dir, 'unsplit', 'trials.jsonl'), 'utf8').split('\n')[0]) as { tune: Record<string, number>; heldOut: Record<string, number> };
    expect(t.tune).toEqual({ arc: 75, hella: 50 });
    expect(t.heldOut).toEqual(t.tune);
    expect(readFileSync(join(dir, 'unsplit', 'report.md'), 'utf8')).toMatch(/\*\*no held-out split\*\* for arc, hella: the evaluator wrote no per-sample files/);
    expect(existsSync(join(dir, 'unsplit', 'work', 'soup-1_0', 'model', 'model.safetensors'))).toBe(true);
  }, 120_000);

  it('a job that fails every try is recorded as failed with its log, and the search goes on', async () => {
    const crash = join(dir, 'crash');
    writeFileSync(crash, '');
    const template = `case {point} in soup-0.5_0.5) if [ -e ${crash} ]; then echo "evaluator crashed on {point}"; exit 7; fi;; esac; ${copy('two-tasks')}`;
    const r = await search('fails', template);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/soup-0\.5_0\.5: job \S+ FAILED, exit status 7; trying again \(1 of 1\)/);
    const lines = readFileSync(join(dir, 'fails', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { failed?: { attempts: number; reason: string; logTail: string } });
    const failed = lines.filter((l) => l.failed);
    expect(failed).toHaveLength(1);
    expect(failed[0].failed).toEqual({ attempts: 2, reason: 'FAILED, exit status 7', logTail: 'evaluator crashed on soup-0.5_0.5' });
    expect(readFileSync(join(dir, 'fails', 'trials.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
    const report = readFileSync(join(dir, 'fails', 'report.md'), 'utf8');
    expect(report).toMatch(/## Failed points \(1\)[\s\S]*2 tries; last: FAILED, exit status 7[\s\S]*evaluator crashed on soup-0\.5_0\.5/);
    const jobs = readFileSync(join(dir, 'fails', 'work', 'jobs.jsonl'), 'utf8').trim().split('\n');
    expect(jobs).toHaveLength(4);

    // Resumed once the fault is gone: only the failed point is submitted again.
    rmSync(crash);
    const again = await search('fails', template, ['--resume']);
    expect(again.code, again.err).toBe(0);
    expect(readFileSync(join(dir, 'fails', 'work', 'jobs.jsonl'), 'utf8').trim().split('\n').slice(4).map((l) => (JSON.parse(l) as { point: string }).point)).toEqual(['soup-0.5_0.5']);
    expect(readFileSync(join(dir, 'fails', 'report.md'), 'utf8')).toMatch(/## Failed points \(0\)/);
    // Another evaluator is another search: --resume refuses to mix their results.
    const other = await search('fails', copy('two-tasks'), ['--resume']);
    expect(other.err).toMatch(/--resume found a search of other task files/);
  }, 120_000);

  it('--merge-in-job: the job writes the soup with souplab merge, the same bytes as merging its recipe here', async () => {
    const built = buildCli('merge-in-job');
    try {
      const r = await search('in-job', copy('two-tasks'), ['--merge-in-job', '--keep-soups', '--souplab-cmd', `${process.execPath} ${built.bin}`]);
      expect(r.code, r.err).toBe(0);
      const point = join(dir, 'in-job', 'work', 'soup-0.5_0.5');
      const here = captureIO();
      expect(await runCli(['merge', join(point, 'recipe.yaml'), '--out', join(dir, 'merged-here'), '--backend', 'cpu', '--quiet'], here)).toBe(0);
      expect(readFileSync(join(point, 'model', 'model.safetensors')).equals(readFileSync(join(dir, 'merged-here', 'model.safetensors')))).toBe(true);
      const trials = readFileSync(join(dir, 'in-job', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { soupSeconds: number });
      expect(trials.map((t) => t.soupSeconds)).toEqual([0, 0, 0]);
    } finally {
      built.remove();
    }
  }, 120_000);

  it('refuses clearly, before anything runs: a template without {model} or {out}, an unknown placeholder, no sbatch, a locked work folder', async () => {
    expect((await search('bad1', 'lm_eval --output_path {out}')).err).toMatch(/--evaluator-cmd has no \{model\}: the command must be told which model folder to evaluate/);
    expect((await search('bad2', 'lm_eval --model_args pretrained={model}')).err).toMatch(/--evaluator-cmd has no \{out\}/);
    expect((await search('bad3', 'x {model} {out} {task}')).err).toMatch(/\{task\} is not a placeholder/);
    for (const b of ['bad1', 'bad2', 'bad3']) expect(existsSync(join(dir, b))).toBe(false);

    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-bin');
    try {
      const r = await search('no-sbatch', copy('two-tasks'), ['--launcher', 'slurm']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--launcher slurm: sbatch is not on this machine .*nothing was submitted/);
    } finally {
      process.env.PATH = path;
    }

    mkdirSync(join(dir, 'shared-work'), { recursive: true });
    writeFileSync(join(dir, 'shared-work', 'souplab-search.lock'), `${process.pid} ${hostname()}\n`);
    const locked = await search('locked', copy('two-tasks'), ['--work-dir', join(dir, 'shared-work')]);
    expect(locked.code).toBe(2);
    expect(locked.err).toMatch(/another search \(process \d+ on .*\) is using this work folder/);
  }, 120_000);

  it('at the first point: no results in {out}, or results without the tasks of the other points, stop the search with one sentence', async () => {
    const none = await search('no-results', 'true {model} {out}');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/out-1 \(point soup-1_0\) holds no results_\*\.json: the evaluator must write lm-evaluation-harness results there/);

    const other = await search('other-tasks', `case {point} in soup-0_1) ${copy('one-task')};; *) ${copy('two-tasks')};; esac`);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/point soup-0_1\): the results have no task "hella" \(earlier points had it; these have arc\)/);
    // What finished is kept.
    expect(readFileSync(join(dir, 'other-tasks', 'trials.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  }, 120_000);
});
