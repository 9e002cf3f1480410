/**
 * The disk-space check before a search with an external evaluator: one soup per running job must fit
 * where the soups are written. The free space is injected (filling a disk is no test); the rest is real.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClusterSearch } from '../../src/cli/clusterSearch';
import { InputError } from '../../src/errors';
import { formatBytes } from '../../src/util/bytes';
import { captureIO, writeTinyModel } from '../eval/helpers';

let dir: string;
let models: string;
let template: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-disk-check-'));
  for (const [name, delta] of [['alpha', 31], ['beta', 32]] as const) await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  models = `alpha=${join(dir, 'alpha')};beta=${join(dir, 'beta')}`;
  const results = join(dir, 'results.json');
  writeFileSync(results, JSON.stringify({ results: { arc: { alias: 'arc', 'acc,none': 0.5 } }, group_subtasks: {}, higher_is_better: { arc: { acc: true } } }));
  // Each evaluation leaves a mark: what ran is what was submitted.
  template = `test -f {model}/model.safetensors && touch ${join(dir, 'ran')}-{point} && cp ${results} {out}/results_2025-01-01T00-00-00.json`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const args = (out: string) => ['--models', models, '--step', '0.5', '--out', join(dir, out), '--work-dir', join(dir, `${out}-work`), '--backend', 'cpu', '--jobs', '2', '--quiet', '--evaluator-cmd', template];
const marks = () => readdirSync(dir).filter((f) => f.startsWith('ran-'));

describe('the disk-space check of a cluster search', () => {
  it('refuses in one sentence when the work folder cannot hold a soup per job, and submits nothing', async () => {
    const asked: string[] = [];
    const io = captureIO();
    const refusal = await runClusterSearch(args('full'), io, {
      freeBytes: async (folder) => {
        asked.push(folder);
        return 1000;
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(InputError);
    const work = join(dir, 'full-work');
    expect(asked).toEqual([work]);
    const m = (refusal as Error).message.match(/^(.+): (.+) free, but 2 soups of (.+) \(one per running job\) need (.+); lower --jobs or free some space$/);
    expect(m, (refusal as Error).message).not.toBeNull();
    expect(m?.[1]).toBe(work);
    expect(m?.[2]).toBe(formatBytes(1000));
    // Nothing submitted, nothing started: no job ledger, no lock, no results folder, no evaluation ran.
    expect(existsSync(work)).toBe(false);
    expect(existsSync(join(dir, 'full'))).toBe(false);
    expect(marks()).toEqual([]);
  });

  it('with room for a soup per job the same search runs every point', async () => {
    const io = captureIO();
    const code = await runClusterSearch(args('room'), io, { freeBytes: async () => 2 ** 40 });
    expect(code, io.err()).toBe(0);
    expect(marks().sort()).toEqual(['ran-soup-0.5_0.5', 'ran-soup-0_1', 'ran-soup-1_0']);
    expect(existsSync(join(dir, 'room-work', 'jobs.jsonl'))).toBe(true);
  }, 120_000);
});
