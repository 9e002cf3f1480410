/**
 * Issue 19 §2's host bound for the search: the peak RSS of the built `souplab search --backend cpu` over
 * n models, in a child process, stays within (n + 1) × one model's size × 1.25 — the models held in
 * memory, the evaluated model in their BF16 (never as f32), and only a window of the soup's tensors as
 * f32 while each point is souped into it (src/search/soupLoader.ts readAhead). Two generated BF16 models
 * of Qwen2-0.5B's shape (988 MB each), three points. A smaller model would not do: the process's own
 * few hundred MB (Node, the soup's and the kernels' worker threads) are outside the bound's 25 %.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { qwen2HalfB } from '../../scripts/realShapes';
import { peakRssScript, writeBf16Model } from '../support/bf16Model';
import { buildCli, type BuiltCli } from '../support/builtCli';

let cli: BuiltCli | undefined;
let dir: string;
let modelBytes = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-rss-'));
  cli = buildCli('souplab-search-rss');
  const shape = qwen2HalfB();
  const sizes = [await writeBf16Model(join(dir, 'alpha'), shape, 'alpha', 1), await writeBf16Model(join(dir, 'beta'), shape, 'beta', 1001)];
  expect(sizes[0]).toBe(sizes[1]);
  modelBytes = sizes[0];
}, 600_000);

afterAll(() => {
  cli?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('souplab search over 2 BF16 models holds them in memory within (n + 1) × a model × 1.25 of RSS', () => {
  writeFileSync(join(dir, 'prose.jsonl'), `${JSON.stringify({ text: 'The sky is blue' })}\n`);
  const rssFile = join(dir, 'rss.txt');
  const r = spawnSync(
    process.execPath,
    ['--require', peakRssScript(dir, rssFile), cli!.bin, 'search', '--models', `alpha=${join(dir, 'alpha')};beta=${join(dir, 'beta')}`, '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--step', '0.5', '--shapley', 'none', '--out', join(dir, 'out')],
    { cwd: dir, encoding: 'utf8', timeout: 480_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  // Both models alone and their uniform soup: three soups evaluated, with the models held in memory.
  const trials = readFileSync(join(dir, 'out', 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string });
  expect(new Set(trials.map((t) => t.key)).size).toBe(3);
  expect(r.stderr).toMatch(/fit: 2 models .* held in memory/);
  const peakRss = Number(readFileSync(rssFile, 'utf8')) * 1024;
  console.log(`search over 2 models of ${(modelBytes / 1e6).toFixed(0)} MB: peak RSS ${(peakRss / 1e6).toFixed(0)} MB (${(peakRss / modelBytes).toFixed(2)} × a model; bound 3.75 ×)`);
  expect(peakRss).toBeLessThanOrEqual((2 + 1) * modelBytes * 1.25);
}, 600_000);
