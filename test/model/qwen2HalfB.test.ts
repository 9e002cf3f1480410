/**
 * A model of Qwen2-0.5B's shape (hidden 896, 24 layers, 14/2 heads, intermediate 4864, vocabulary
 * 151,936, tied embeddings, BF16: 988 MB), generated here with seeded random weights, tasted end to end
 * by the built `souplab eval --backend cpu` in a child process: it scores, and its peak RSS stays within
 * 1.3 × the checkpoint (the weights are held in BF16, not as f32).
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

async function writeQwen2HalfB(folder: string): Promise<number> {
  return writeBf16Model(folder, qwen2HalfB(), 'qwen2-0.5b');
}

let checkpointBytes = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-qwen05-'));
  cli = buildCli('souplab-qwen05');
  checkpointBytes = await writeQwen2HalfB(join(dir, 'qwen2-0.5b'));
}, 600_000);

afterAll(() => {
  cli?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('souplab eval --backend cpu tastes a 0.5 B Qwen2-shaped BF16 model within 1.3 × its size of RSS', () => {
  expect(checkpointBytes).toBeGreaterThan(980e6);
  writeFileSync(join(dir, 'items.jsonl'), `${JSON.stringify({ query: 'The sky is', choices: [' blue', ' green'], gold: 0 })}\n${JSON.stringify({ query: 'Two plus two is', choices: [' four', ' five'], gold: 0 })}\n`);
  // The child writes its own peak RSS (KiB) when it exits.
  const rssFile = join(dir, 'rss.txt');
  const r = spawnSync(process.execPath, ['--require', peakRssScript(dir, rssFile), cli!.bin, 'eval', join(dir, 'qwen2-0.5b'), '--tasks', join(dir, 'items.jsonl'), '--backend', 'cpu', '--json'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 480_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const json = JSON.parse(r.stdout) as { backend: string; tasks: { items: { loglikelihoods: number[] }[] }[] };
  expect(json.backend).toBe('cpu');
  const lls = json.tasks[0].items.flatMap((i) => i.loglikelihoods);
  expect(lls).toHaveLength(4);
  for (const ll of lls) {
    expect(Number.isFinite(ll)).toBe(true);
    expect(ll).toBeLessThan(0);
  }
  const peakRss = Number(readFileSync(rssFile, 'utf8')) * 1024;
  console.log(`qwen2-0.5b: checkpoint ${(checkpointBytes / 1e6).toFixed(0)} MB, eval peak RSS ${(peakRss / 1e6).toFixed(0)} MB (${(peakRss / checkpointBytes).toFixed(2)} ×)`);
  expect(peakRss).toBeLessThanOrEqual(1.3 * checkpointBytes);
}, 600_000);
