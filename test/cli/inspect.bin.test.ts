import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { badInputs, writeBadInputs, writeMissingShardFolder } from './inspectCases';

// The `souplab` binary as a user runs it: bin/souplab.js loading the bundle `npm run build:cli` makes.
// Built into a private copy of the bin/ + dist/node/ layout inside node_modules/.cache (so the bundle
// still finds the dependencies) to never race other tests that use the shared dist/node.
const repo = fileURLToPath(new URL('../../', import.meta.url));
const install = join(repo, 'node_modules', '.cache', `souplab-inspect-bin-${process.pid}`);
const fixtures = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

function souplab(...args: string[]) {
  const r = spawnSync(process.execPath, [join(install, 'bin/souplab.js'), ...args], { encoding: 'utf8', env: { ...process.env, SOUPLAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let root: string;
beforeAll(async () => {
  execFileSync('npm', ['run', 'build:cli', '--', '--outDir', join(install, 'dist/node')], { cwd: repo, stdio: 'pipe' });
  await mkdir(join(install, 'bin'), { recursive: true });
  await copyFile(join(repo, 'bin/souplab.js'), join(install, 'bin/souplab.js'));
  root = await mkdtemp(join(tmpdir(), 'souplab-bin-'));
  await writeBadInputs(root);
}, 180_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(install, { recursive: true, force: true });
});

describe('node bin/souplab.js inspect', () => {
  it('lists a real checkpoint, as JSON too', () => {
    const r = souplab('inspect', `${fixtures}safetensors_samples_overall.safetensors`, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.tensorCount).toBe(9);
    expect(report.parameterCount).toBe(54);
    expect(report.metadata).toEqual({ test: 'a' });
  });

  it('answers every bad input with exit code 2 and one line, never a stack trace', async () => {
    const cases = [...badInputs.map((b) => ({ path: join(root, b.file), message: b.message })), { path: await writeMissingShardFolder(root), message: /names shard model-00002-of-00002.safetensors/ }];
    for (const c of cases) {
      const r = souplab('inspect', c.path);
      expect(r.code, c.path).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n');
      expect(lines.length, r.stderr).toBe(2); // one line and its newline
      expect(lines[0].startsWith(`souplab inspect: ${c.path}`)).toBe(true);
      expect(lines[0]).toMatch(c.message);
      expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
    }
  });
});
