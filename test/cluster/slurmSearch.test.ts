/**
 * The SoCE search on a real (one-node) Slurm: every point souped by souplab merge, submitted with
 * sbatch, scored by `souplab eval --output-path` (lm-eval's layout) inside the job, read back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { buildCli, type BuiltCli } from '../support/builtCli';
import { startLocalSlurm, type LocalSlurm } from '../support/localSlurm';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';

let dir: string;
let models: string;
let tasks: string;
let slurm: LocalSlurm | undefined;
let built: BuiltCli | undefined;
let souplab: string;

const TEXT = 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights, and the soup can be better than each of them.';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-slurm-search-'));
  for (const [name, delta] of [['alpha', 31], ['beta', 32], ['gamma', 33]] as const) {
    await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, deltaScale: 0.3, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  }
  models = ['alpha', 'beta', 'gamma'].map((m) => `${m}=${join(dir, m)}`).join(';');
  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
  writeFileSync(join(dir, 'prose.jsonl'), TEXT.split('. ').map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  tasks = `${join(dir, 'facts.jsonl')},${join(dir, 'prose.jsonl')}`;
  built = buildCli('slurm-search');
  souplab = `${process.execPath} ${built.bin}`;
  slurm = await startLocalSlurm();
}, 600_000);

afterAll(() => {
  slurm?.stop();
  built?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

interface Job {
  key: string;
  point: string;
  attempt: number;
  jobId: string;
}
const ledger = (work: string): Job[] =>
  existsSync(join(work, 'jobs.jsonl'))
    ? readFileSync(join(work, 'jobs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Job)
    : [];
/** trials.csv rows without the trial id and the time, sorted: the scores per weight vector. */
const scoresOf = (csv: string) =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').slice(1, -1).join(','))
    .sort();
const squeue = () => execFileSync('squeue', ['-h', '-o', '%i %T'], { encoding: 'utf8' });
const evaluator = (extra = '') => `${extra}${souplab} eval {model} --tasks ${tasks} --backend cpu --quiet --output-path {out} > /dev/null`;

describe('souplab search --launcher slurm', () => {
  it('a 37-point grid through Slurm with --jobs 3 scores as the in-process search; a job cancelled with scancel mid-search is tried again', async () => {
    const inProcess = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--shapley', 'none', '--out', join(dir, 'in-process')], inProcess)).toBe(0);
    expect(inProcess.out()).toMatch(/searched 37 points/);

    // One job (whichever takes the token first) holds until the test cancels it with scancel.
    writeFileSync(join(dir, 'hold-token'), '');
    const hold = `mv ${join(dir, 'hold-token')} ${join(dir, 'held-')}{point} 2>/dev/null && sleep 300; `;
    const out = join(dir, 'slurm');
    const io = captureIO();
    const search = runCli(['search', '--models', models, '--backend', 'cpu', '--shapley', 'none', '--out', out, '--jobs', '3', '--launcher', 'slurm', '--poll-seconds', '0.3', '--evaluator-cmd', evaluator(hold)], io);
    let cancelled: Job | undefined;
    for (let i = 0; i < 1200 && !cancelled; i++) {
      const held = readdirSync(dir).find((f) => f.startsWith('held-'));
      const job = held && ledger(join(out, 'work')).find((j) => j.point === held.slice('held-'.length));
      if (job) {
        execFileSync('scancel', [job.jobId]);
        cancelled = job;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    expect(cancelled).toBeDefined();
    const code = await search;
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(new RegExp(`${cancelled!.point}: job ${cancelled!.jobId} .*trying again`));

    expect(scoresOf(readFileSync(join(out, 'trials.csv'), 'utf8'))).toEqual(scoresOf(readFileSync(join(dir, 'in-process', 'trials.csv'), 'utf8')));
    const jobs = ledger(join(out, 'work'));
    // 40 points (3 singles + 37 grid points), each submitted once, the cancelled one twice.
    expect(new Set(jobs.map((j) => j.key)).size).toBe(40);
    expect(jobs.length).toBe(41);
    expect(jobs.filter((j) => j.key === cancelled!.key).map((j) => j.attempt)).toEqual([1, 2]);
    // Soups are deleted after their evaluation; the logs stay.
    expect(readdirSync(join(out, 'work', cancelled!.point)).sort()).toEqual(['exit-2', 'job-1.log', 'job-1.sh', 'job-2.log', 'job-2.sh', 'out-1', 'out-2', 'recipe.yaml']);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/## Failed points \(0\)/);
  }, 600_000);

  it('stopped (its own jobs cancelled, no other) and resumed: nothing is submitted twice', async () => {
    const two = ['alpha', 'beta'].map((m) => `${m}=${join(dir, m)}`).join(';');
    const out = join(dir, 'stopped');
    const args = ['search', '--models', two, '--backend', 'cpu', '--step', '0.25', '--out', out, '--jobs', '2', '--launcher', 'slurm', '--poll-seconds', '0.3', '--evaluator-cmd', evaluator()];
    // Someone else's job on the same cluster: the stop must leave it alone.
    writeFileSync(join(dir, 'other.sh'), '#!/bin/sh\nsleep 300\n');
    const other = execFileSync('sbatch', ['--parsable', `--output=${join(dir, 'other.log')}`, join(dir, 'other.sh')], { encoding: 'utf8' }).trim();

    const first = captureIO(/point 2\//);
    expect(await runCli(args, first)).toBe(130);
    const firstJobs = ledger(join(out, 'work'));
    const finished = readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key);
    expect(finished.length).toBeGreaterThanOrEqual(2);
    // Its own unfinished jobs are cancelled; the other job is still queued or running.
    const queue = squeue();
    for (const j of firstJobs) expect(queue).not.toMatch(new RegExp(`^${j.jobId} (RUNNING|PENDING)`, 'm'));
    expect(queue).toMatch(new RegExp(`^${other} (RUNNING|PENDING)`, 'm'));
    execFileSync('scancel', [other]);

    const resumed = captureIO();
    expect(await runCli([...args, '--resume'], resumed)).toBe(0);
    const all = ledger(join(out, 'work'));
    const later = all.slice(firstJobs.length);
    // Singles 2 + the grid's 3 points (0.25/0.75, 0.5/0.5 = uniform, 0.75/0.25) = 5 soups.
    const keys = readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n').length - 1;
    expect(keys).toBe(5);
    for (const j of later) expect(finished).not.toContain(j.key);
    expect(new Set(later.map((j) => j.key)).size).toBe(later.length);
    expect(later.length).toBe(keys - finished.length);
    expect(resumed.out()).toContain(`(${keys - finished.length} evaluated now, ${later.length} jobs submitted)`);
  }, 600_000);

  it('killed outright (its jobs still running) and resumed: waits for those jobs instead of submitting them again', async () => {
    const two = ['alpha', 'beta'].map((m) => `${m}=${join(dir, m)}`).join(';');
    const out = join(dir, 'killed');
    const gate = join(dir, 'gate');
    // Every job waits for the gate, so the first run is killed while its two jobs are in Slurm.
    const template = evaluator(`while [ ! -e ${gate} ]; do sleep 0.2; done; `);
    const args = ['search', '--models', two, '--backend', 'cpu', '--step', '0.25', '--out', out, '--jobs', '2', '--launcher', 'slurm', '--poll-seconds', '0.3', '--evaluator-cmd', template, '--quiet'];
    const child = spawn(process.execPath, [built!.bin, ...args], { stdio: 'ignore', env: process.env });
    for (let i = 0; i < 1200 && ledger(join(out, 'work')).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const before = ledger(join(out, 'work'));
    expect(before).toHaveLength(2);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const j of before) expect(squeue()).toMatch(new RegExp(`^${j.jobId} (RUNNING|PENDING)`, 'm'));

    // The resumed search takes over the dead process's lock and waits for the two jobs; the gate opens
    // only once it says it waits for both, so the jobs cannot end before it looks, however slow it is.
    const resumed = captureIO();
    let ended = false;
    const run = runCli([...args.filter((a) => a !== '--quiet'), '--resume'], resumed).finally(() => (ended = true));
    const waiting = before.map((j) => `${j.point}: waiting for job ${j.jobId} of an earlier run`);
    while (!ended && !waiting.every((w) => resumed.err().includes(w))) await new Promise((r) => setTimeout(r, 100));
    writeFileSync(gate, '');
    expect(await run, resumed.err()).toBe(0);
    for (const w of waiting) expect(resumed.err()).toContain(w);
    const all = ledger(join(out, 'work'));
    expect(all.slice(0, 2)).toEqual(before);
    // 5 points, each submitted once in all.
    expect(all).toHaveLength(5);
    expect(new Set(all.map((j) => j.key)).size).toBe(5);
  }, 600_000);
});
