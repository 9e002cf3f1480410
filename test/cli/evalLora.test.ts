/**
 * `souplab eval` and `souplab search` take `base+adapter` ingredients: the model runtime reads the base
 * with the adapter merged in, tensor by tensor, and scores exactly as a checkpoint with the adapter
 * merged beforehand.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { openCheckpointRef } from '../../src/node/openCheckpointRef';
import { captureIO, MC_ITEMS, writeTinyModel } from '../eval/helpers';
import { randomTensor, writeModel, type TestTensor } from '../merge/models';

let dir: string;
let tasks: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-eval-lora-'));
  await writeTinyModel(join(dir, 'base'), { architecture: 'llama', seed: 11 });
  // A rank-2 adapter on every attention query and MLP up projection of the tiny model.
  const base = await openCheckpointPath(join(dir, 'base'));
  const factors: TestTensor[] = [];
  let seed = 100;
  for (const [name, t] of base.tensors) {
    const m = /^(.*\.(q_proj|up_proj))\.weight$/.exec(name);
    if (!m) continue;
    const [out, inF] = t.info.shape;
    factors.push(randomTensor(`base_model.model.${m[1]}.lora_A.weight`, 'F32', [2, inF], seed++, { scale: 0.5 }));
    factors.push(randomTensor(`base_model.model.${m[1]}.lora_B.weight`, 'F32', [out, 2], seed++, { scale: 0.5 }));
  }
  await base.close();
  expect(factors.length).toBeGreaterThan(0);
  writeModel(join(dir, 'adapter'), factors, { layout: 'folder', extraFiles: { 'adapter_config.json': JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'up_proj'] }) } });
  // writeModel names the folder's file model.safetensors; PEFT's is adapter_model.safetensors.
  copyFileSync(join(dir, 'adapter', 'model.safetensors'), join(dir, 'adapter', 'adapter_model.safetensors'));
  rmSync(join(dir, 'adapter', 'model.safetensors'));

  // The same model with the adapter merged beforehand.
  const adapted = await openCheckpointRef(`${join(dir, 'base')}+${join(dir, 'adapter')}`);
  const tensors: TestTensor[] = [];
  for (const [name, t] of adapted.tensors) tensors.push({ name, dtype: t.info.dtype as TestTensor['dtype'], shape: t.info.shape, data: await t.source.read(t.info.byteOffset, t.info.byteLength) });
  await adapted.close();
  writeModel(join(dir, 'premerged'), tensors, { layout: 'folder' });
  for (const f of readdirSync(join(dir, 'base')).filter((n) => n.endsWith('.json'))) copyFileSync(join(dir, 'base', f), join(dir, 'premerged', f));

  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i) => JSON.stringify(i)).join('\n') + '\n');
  writeFileSync(join(dir, 'prose.txt'), 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights.\n');
  tasks = `${join(dir, 'facts.jsonl')},${join(dir, 'prose.txt')}`;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scores(model: string): Promise<unknown[]> {
  const io = captureIO();
  const code = await runCli(['eval', model, '--tasks', tasks, '--backend', 'cpu', '--json'], io);
  expect(io.err()).not.toMatch(/error|warning/);
  expect(code).toBe(0);
  return (JSON.parse(io.out()) as { tasks: unknown[] }).tasks;
}

describe('adapters in evaluation', () => {
  it('souplab eval base+adapter scores as the adapter merged beforehand, and not as the base', async () => {
    const adapted = await scores(`${join(dir, 'base')}+${join(dir, 'adapter')}`);
    expect(adapted).toEqual(await scores(join(dir, 'premerged')));
    expect(adapted).not.toEqual(await scores(join(dir, 'base')));
  });

  it('a recipe with base+adapter is souped in memory like any other', async () => {
    const recipe = (first: string) => `merge_method: linear\nmodels:\n  - model: ${first}\n    parameters: {weight: 0.5}\n  - model: base\n    parameters: {weight: 0.5}\n`;
    writeFileSync(join(dir, 'lora.yaml'), recipe('base+adapter'));
    writeFileSync(join(dir, 'pre.yaml'), recipe('premerged'));
    expect(await scores(join(dir, 'lora.yaml'))).toEqual(await scores(join(dir, 'pre.yaml')));
  });

  it('souplab search takes base+adapter ingredients; the recipes it writes keep the reference', async () => {
    const io = captureIO();
    const models = `lora=${join(dir, 'base')}+${join(dir, 'adapter')};pre=${join(dir, 'premerged')}`;
    const code = await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--plan', 'grid', '--out', join(dir, 'search')], io);
    expect(io.err()).not.toMatch(/internal error|stopped by an error/);
    expect(code).toBe(0);
    const written = readdirSync(join(dir, 'search'));
    const yamls = written.filter((f) => f.endsWith('.yaml'));
    expect(yamls.length).toBeGreaterThan(0);
    expect(yamls.map((f) => readFileSync(join(dir, 'search', f), 'utf8')).join('\n')).toMatch(/model: \.\.\/base\+\.\.\/adapter/);
    // The two ingredients are the same model (the adapter merged beforehand or on the fly): every trial scores
    // alike — up to the soup's own f32 rounding (w·x + (1 − w)·x is x only within an ulp), which moves the
    // perplexity task's per-byte probability in its 7th digit.
    const csv = readFileSync(join(dir, 'search', 'trials.csv'), 'utf8').trim().split('\n');
    const header = csv[0].split(',');
    const scoreColumns = header.map((h, i) => [h, i] as const).filter(([h]) => /facts|prose/.test(h)).map(([, i]) => i);
    expect(scoreColumns.length).toBeGreaterThan(0);
    const rows = csv.slice(1).map((l) => scoreColumns.map((i) => Number(l.split(',')[i])));
    for (const row of rows) row.forEach((v, c) => expect(Math.abs(v - rows[0][c]), `${header[scoreColumns[c]]}: ${v} vs ${rows[0][c]}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(rows[0][c]))));
  });
});
