/**
 * A one-node Slurm for a test (scripts/slurm/localSlurm.sh): installed when missing (as root), started
 * in a temporary folder on two free ports, and stopped afterwards. SLURM_CONF is set for this process,
 * so sbatch, squeue and the search under test use it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const script = resolve(__dirname, '../../scripts/slurm/localSlurm.sh');

export interface LocalSlurm {
  conf: string;
  dir: string;
  stop(): void;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '0.0.0.0', () => server.close(() => done(true)));
  });
}

/** A port p with p and p + 1 free (slurmctld, slurmd). */
async function freePortPair(): Promise<number> {
  for (let p = 16817; p < 17817; p += 2) if ((await portFree(p)) && (await portFree(p + 1))) return p;
  throw new Error('no two free ports for Slurm between 16817 and 17817');
}

export async function startLocalSlurm(): Promise<LocalSlurm> {
  const dir = mkdtempSync(join(tmpdir(), 'souplab-slurm-'));
  const port = await freePortPair();
  const started = spawnSync('/bin/sh', [script, 'start', dir, String(port)], { encoding: 'utf8', timeout: 600_000 });
  if (started.status !== 0) throw new Error(`localSlurm.sh start failed (exit ${started.status}): ${started.stderr}${started.stdout}`);
  const conf = join(dir, 'slurm.conf');
  const before = process.env.SLURM_CONF;
  process.env.SLURM_CONF = conf;
  return {
    conf,
    dir,
    stop() {
      // The script returns once no daemon runs, so nothing writes into the folder while it is removed.
      const stopped = spawnSync('/bin/sh', [script, 'stop', dir], { encoding: 'utf8', timeout: 150_000 });
      if (stopped.status !== 0 || stopped.stderr) process.stderr.write(`localSlurm.sh stop: ${stopped.stderr}${stopped.error?.message ?? ''}\n`);
      if (before === undefined) delete process.env.SLURM_CONF;
      else process.env.SLURM_CONF = before;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
