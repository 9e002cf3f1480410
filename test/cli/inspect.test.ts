import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { badInputs, writeBadInputs, writeMissingShardFolder } from './inspectCases';
import { cli } from '../support/cliInProcess';

const fixtures = new URL('../../../shared/fixtures/', import.meta.url).pathname;

const run = (...argv: string[]) => cli(argv);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'souplab-inspect-'));
  await writeBadInputs(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('souplab inspect', () => {
  it('prints tensor count, parameters, bytes by dtype, file and metadata', async () => {
    const r = await run('inspect', `${fixtures}burn_mnist.safetensors`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/tensors\s+20\n/);
    // 8·9+8 + 16·8·9+16 + 24·16·9+24 + 32·11616+32 + 10·32+10 + 4·24 + 4·10 + 2 scalars
    expect(r.stdout).toMatch(/parameters\s+376,940 \(376.9 K\)/);
    expect(r.stdout).toMatch(/F32 +1.51 MB {2}18 tensors/);
    expect(r.stdout).toMatch(/I64 +16 B {2}2 tensors/);
    expect(r.stdout).toMatch(/total +1.51 MB\n/);
    expect(r.stdout).toMatch(/metadata\s+\(none\)/);
    const meta = await run('inspect', `${fixtures}safetensors_samples_overall.safetensors`, '--tensors');
    expect(meta.stdout).toMatch(/metadata\s+test = a/);
    expect(meta.stdout).toMatch(/\n {2}e {2}F16 \[6\]\n/);
  });

  it('--json gives tensorCount, parameterCount and the tensor list', async () => {
    const r = await run('inspect', '--json', `${fixtures}ollama_minicpm3_testdata.safetensors`);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.tensorCount).toBe(15);
    expect(report.parameterCount).toBe(10 * 100 * 100 + 5 * 100);
    expect(report.tensorBytes).toBe(4 * report.parameterCount);
    expect(report.tensors).toHaveLength(15);
    expect(report.tensors[0]).toMatchObject({ name: expect.any(String), dtype: 'F32', shape: expect.any(Array) });
    expect(report.dtypes.F32).toEqual({ tensorCount: 15, parameterCount: 100500, bytes: 402000 });
    expect(report.sharded).toBe(false);
  });

  it('inspects a sharded folder', async () => {
    const { SafetensorsWriter } = await import('../../src/formats/writer');
    const { nodeFolderTarget } = await import('../../src/node/fileTargets');
    const dir = join(root, 'sharded');
    const w = await SafetensorsWriter.create(nodeFolderTarget(dir), [
      { name: 'a', dtype: 'BF16', shape: [4, 4] },
      { name: 'b', dtype: 'BF16', shape: [4, 4] },
    ], { maxShardBytes: 32, metadata: { format: 'pt' } });
    await w.append('a', new Uint8Array(32));
    await w.append('b', new Uint8Array(32));
    await w.finish();
    const r = await run('inspect', dir, '--json');
    const report = JSON.parse(r.stdout);
    expect(report.sharded).toBe(true);
    expect(report.files.map((f: { name: string }) => f.name)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(report.tensors.map((t: { file: string }) => t.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const text = await run('inspect', dir);
    expect(text.stdout).toMatch(/shards\s+2 \(model.safetensors.index.json\)/);
  });

  for (const bad of badInputs) {
    it(`exits 2 with one line for ${bad.file}`, async () => {
      const path = join(root, bad.file);
      const r = await run('inspect', path);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith('\n')).toBe(true);
      expect(r.stderr.trimEnd()).not.toContain('\n');
      expect(r.stderr.startsWith(`souplab inspect: ${path}: `)).toBe(true);
      expect(r.stderr).toMatch(bad.message);
    });
  }

  it('exits 2 with one line for an index that names a missing shard', async () => {
    const dir = await writeMissingShardFolder(root);
    const r = await run('inspect', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `souplab inspect: ${dir}/model.safetensors.index.json: names shard model-00002-of-00002.safetensors (for 1 tensor, e.g. b), which is not in the folder\n`,
    );
  });

  it('exits 2 for a missing path, no path, or two paths', async () => {
    expect(await run('inspect', join(root, 'nope'))).toMatchObject({ code: 2, stderr: `souplab inspect: ${join(root, 'nope')}: no such file or folder\n` });
    expect((await run('inspect')).code).toBe(2);
    expect((await run('inspect', 'a', 'b')).stderr).toMatch(/expected one path, got 2/);
  });
});
