/**
 * Jobs on Slurm: `sbatch --parsable` (the user's --slurm-args passed through: partition, --gres, time),
 * tracked with `squeue` while queued or running and `scontrol show job` once it has left the queue
 * (`sacct` only where the cluster keeps accounting), cancelled with `scancel` of this search's own ids.
 * Whether the evaluator succeeded is read from the exit file the job script writes, not from accounting.
 */
import { execFile } from 'node:child_process';
import { CancelledError, InputError } from '../errors';
import type { Launcher } from '../search/cluster/launcher';

export interface SlurmOptions {
  /** Extra sbatch arguments, split as a shell would ("--partition=gpu --gres=gpu:8 --time=2:00:00"). */
  args: string[];
  /** How often a job's state is asked for (default 2 s). */
  pollMs?: number;
  /** The folder with sbatch, squeue, scontrol, scancel (default: PATH). */
  bin?: string;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  missing: boolean;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr, missing: (error as NodeJS.ErrnoException | null)?.code === 'ENOENT' });
    });
  });
}

const QUEUED = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'STOPPED']);

/** Splits --slurm-args as a shell would for plain words and quotes. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  return out;
}

export function slurmLauncher(options: SlurmOptions): Launcher {
  const bin = (name: string) => (options.bin ? `${options.bin}/${name}` : name);
  const pollMs = options.pollMs ?? 2000;
  let accounting: boolean | undefined;
  const state = async (id: string): Promise<{ state: string; exitCode: number | null } | undefined> => {
    const q = await run(bin('squeue'), ['-h', '-j', id, '-o', '%T']);
    const queued = q.code === 0 ? q.stdout.trim() : '';
    if (queued !== '') return { state: queued, exitCode: null };
    const s = await run(bin('scontrol'), ['show', 'job', '-o', id]);
    const js = /JobState=(\S+)/.exec(s.stdout);
    if (js) {
      const ec = /ExitCode=(\d+):(\d+)/.exec(s.stdout);
      return { state: js[1], exitCode: ec ? Number(ec[1]) : null };
    }
    accounting ??= !/accounting_storage\/none/.test((await run(bin('scontrol'), ['show', 'config'])).stdout);
    if (!accounting) return undefined;
    const a = await run(bin('sacct'), ['-n', '-X', '-P', '-j', id, '-o', 'State,ExitCode']);
    const line = a.stdout.trim().split('\n')[0];
    if (!line) return undefined;
    const [st, ec] = line.split('|');
    return { state: st.split(' ')[0], exitCode: ec ? Number(ec.split(':')[0]) : null };
  };
  return {
    description: `Slurm (sbatch${options.args.length ? ` ${options.args.join(' ')}` : ''})`,
    kind: 'slurm',
    async check() {
      const r = await run(bin('sbatch'), ['--version']);
      if (r.missing) throw new InputError('--launcher slurm: sbatch is not on this machine (install Slurm\'s client commands or run on a login node), nothing was submitted');
      if (r.code !== 0) throw new InputError(`--launcher slurm: sbatch --version failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
    },
    async submit(job) {
      const r = await run(bin('sbatch'), ['--parsable', `--job-name=${job.name}`, `--output=${job.log}`, `--chdir=${job.cwd}`, ...options.args, job.script]);
      if (r.missing) throw new InputError('sbatch is not on this machine; nothing was submitted');
      const id = r.stdout.trim().split(';')[0];
      if (r.code !== 0 || !/^\d+(_\d+)?$/.test(id)) throw new InputError(`sbatch refused ${job.script}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? `exit status ${r.code}`}`);
      return id;
    },
    async wait(id, signal) {
      for (;;) {
        if (signal?.aborted) throw new CancelledError();
        const s = await state(id);
        if (!s) return { state: 'ENDED', exitCode: null };
        if (!QUEUED.has(s.state.replace(/\+$/, ''))) return s;
        await sleep(pollMs, signal);
      }
    },
    async alive(id) {
      const s = await state(id);
      return s !== undefined && QUEUED.has(s.state.replace(/\+$/, ''));
    },
    async cancel(ids) {
      if (ids.length > 0) await run(bin('scancel'), ids);
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
