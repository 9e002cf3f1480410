/**
 * The `souplab` binary built into a test's own folder (node_modules/.cache/<name>-<pid>), so that tests
 * running at once never build over each other's bundle, and removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '../..');

export interface BuiltCli {
  /** The built bin/souplab.js to run with `process.execPath`. */
  bin: string;
  remove(): void;
}

export function buildCli(name: string): BuiltCli {
  const root = join(repo, 'node_modules', '.cache', `${name}-${process.pid}`);
  const build = spawnSync(process.execPath, [join(repo, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'vite.cli.config.ts', '--outDir', join(root, 'dist', 'node'), '--emptyOutDir', '--logLevel', 'error'], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error(`build:cli failed: ${build.stderr}`);
  mkdirSync(join(root, 'bin'), { recursive: true });
  const bin = join(root, 'bin', 'souplab.js');
  copyFileSync(join(repo, 'bin', 'souplab.js'), bin);
  return { bin, remove: () => rmSync(root, { recursive: true, force: true }) };
}
