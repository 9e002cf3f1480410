/**
 * Jobs as shell processes on this machine (`souplab search --jobs N` without Slurm): each job script
 * runs in its own process group, its output to its log; cancelling kills that group only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { CancelledError } from '../errors';
import type { JobEnd, Launcher } from '../search/cluster/launcher';

export function localLauncher(): Launcher {
  const running = new Map<string, { child: ChildProcess; ended: Promise<JobEnd> }>();
  let n = 0;
  return {
    description: 'this machine',
    kind: 'local',
    async check() {},
    async submit(job) {
      const log = openSync(job.log, 'a');
      let child: ChildProcess;
      try {
        child = spawn('/bin/sh', [job.script], { cwd: job.cwd, stdio: ['ignore', log, log], detached: true });
      } finally {
        closeSync(log);
      }
      const ended = new Promise<JobEnd>((resolve) => {
        child.on('error', () => resolve({ state: 'FAILED', exitCode: null }));
        child.on('exit', (code, sig) => resolve(sig ? { state: `KILLED (${sig})`, exitCode: null } : { state: code === 0 ? 'COMPLETED' : 'FAILED', exitCode: code }));
      });
      const id = `local-${process.pid}-${++n}-${child.pid ?? 0}`;
      running.set(id, { child, ended });
      void ended.then(() => running.delete(id));
      return id;
    },
    async wait(id, signal) {
      const job = running.get(id);
      if (!job) return { state: 'ENDED', exitCode: null };
      if (!signal) return job.ended;
      if (signal.aborted) throw new CancelledError();
      return await new Promise<JobEnd>((resolve, reject) => {
        const onAbort = () => reject(new CancelledError());
        signal.addEventListener('abort', onAbort, { once: true });
        void job.ended.then((end) => {
          signal.removeEventListener('abort', onAbort);
          resolve(end);
        });
      });
    },
    async alive(id) {
      return running.has(id);
    },
    async cancel(ids) {
      for (const id of ids) {
        const job = running.get(id);
        if (!job?.child.pid) continue;
        try {
          process.kill(-job.child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        await job.ended;
      }
    },
  };
}
