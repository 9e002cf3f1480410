/**
 * A model of Qwen2-0.5B's shape (hidden 896, 24 layers, 14/2 heads, intermediate 4864, vocabulary
 * 151,936, tied embeddings, BF16: 988 MB), generated here with seeded random weights, tasted end to end
 * by the built `souplab eval --backend cpu` in a child process: it scores, and its peak RSS stays within
 * 1.3 × the checkpoint (the weights are held in BF16, not as f32).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { qwen2HalfB } from '../../scripts/realShapes';
import { tinyModelConfig } from '../../scripts/tinyModel';
import { parseModelConfig } from '../../src/model/config';
import { modelTensors } from '../../src/model/weights';
import { SafetensorsWriter } from '../../src/formats/writer';
import { nodeFolderTarget } from '../../src/node/fileTargets';
import { buildCli, type BuiltCli } from '../support/builtCli';

let cli: BuiltCli | undefined;
let dir: string;

/**
 * Seeded BF16 values straight from their bits (a Gaussian per weight takes minutes at this size):
 * matrices uniform-ish in ±[2^-7, 2^-5) (about 1/√896), norms 1, biases small.
 */
function bf16Tensor(role: string, numel: number, seed: number): Uint8Array {
  const out = new Uint16Array(numel);
  if (role === 'norm') return new Uint8Array(out.fill(0x3f80).buffer);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < numel; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    // sign, exponent 120–123 (2^-7 … 2^-4), 7 mantissa bits
    out[i] = ((s >>> 31) << 15) | ((120 + ((s >>> 7) & 3)) << 7) | (s & 0x7f);
  }
  return new Uint8Array(out.buffer);
}

async function writeQwen2HalfB(folder: string): Promise<number> {
  const { config, tokenizer } = tinyModelConfig(qwen2HalfB());
  const tensors = modelTensors(parseModelConfig(config, 'qwen2-0.5b/config.json'));
  const target = nodeFolderTarget(folder);
  const writer = await SafetensorsWriter.create(target, tensors.map((t) => ({ name: t.name, dtype: 'BF16', shape: t.shape })), { metadata: { format: 'pt' }, maxShardBytes: Infinity });
  let seed = 1;
  for (const t of tensors) await writer.append(t.name, bf16Tensor(t.role, t.shape.reduce((a, b) => a * b, 1), seed++));
  await writer.finish();
  const text = (name: string, o: unknown) => writeFileSync(join(folder, name), `${JSON.stringify(o, null, 2)}\n`);
  text('config.json', config);
  text('tokenizer.json', tokenizer.tokenizerJson);
  text('tokenizer_config.json', tokenizer.tokenizerConfig);
  return statSync(join(folder, 'model.safetensors')).size;
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
  writeFileSync(join(dir, 'rss.cjs'), `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
  const r = spawnSync(process.execPath, ['--require', join(dir, 'rss.cjs'), cli!.bin, 'eval', join(dir, 'qwen2-0.5b'), '--tasks', join(dir, 'items.jsonl'), '--backend', 'cpu', '--json'], {
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
