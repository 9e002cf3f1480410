/**
 * runRecipeAsLora (the studio's LoRA adapter export) against the CLI's two steps for the same recipe:
 * `souplab merge recipe.yaml --out soup/` then `souplab extract-lora soup/ --base <base> --rank r --out
 * adapter/` — the same adapter_config.json and adapter_model.safetensors, byte for byte; and the cases
 * it refuses in one sentence with nothing written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { memoryScratch, runRecipeAsLora } from '../../src/merge/soupLora';
import { nodeFileSource } from '../../src/node/fileSource';
import { nodeFolderTarget } from '../../src/node/fileTargets';
import { createNodeCpuBackend } from '../../src/node/cpuWorkers';
import { openCheckpointRef } from '../../src/node/openCheckpointRef';
import { cli } from '../support/cliInProcess';
import { randomTensor, writeModel, type TestTensor } from './models';

let dir: string;

function model(seed: number): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [32, 16], seed),
    randomTensor('model.layers.0.self_attn.q_proj.weight', 'BF16', [16, 16], seed + 1),
    randomTensor('model.layers.0.mlp.up_proj.weight', 'BF16', [40, 16], seed + 2),
    randomTensor('model.norm.weight', 'BF16', [16], seed + 3),
    randomTensor('lm_head.weight', 'BF16', [32, 16], seed + 4),
  ];
}

// Paths as the recipe writes them are what base_model_name_or_path records: absolute, so that the CLI's --base is the same string.
const recipe = () => `merge_method: task_arithmetic
base_model: ${join(dir, 'base')}
models:
  - model: ${join(dir, 'a')}
    parameters: {weight: 0.6}
  - model: ${join(dir, 'b')}
    parameters: {weight: 0.5}
dtype: float32
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-soup-lora-'));
  writeModel(join(dir, 'base'), model(1), { layout: 'folder' });
  // a changes the base everywhere; b only its projections (its embedding, norm and head are the base's).
  writeModel(join(dir, 'a'), model(11), { layout: 'folder' });
  writeModel(join(dir, 'b'), [...model(1).slice(0, 1), ...model(21).slice(1, 3), ...model(1).slice(3)], { layout: 'folder' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exportLora = (text: string, out: string, rank: number) =>
  runRecipeAsLora({
    text,
    fileName: 'soup.yaml',
    openModel: (ref) => openCheckpointRef(ref.path, dir),
    backend: async () => createNodeCpuBackend({ workers: 1 }),
    rank,
    target: nodeFolderTarget(out),
    scratch: memoryScratch(),
    readBack: (f) => nodeFileSource(join(out, f)),
  });

describe('the soup as a LoRA adapter against its base', () => {
  test('the same bytes as souplab merge, then souplab extract-lora, of the same recipe; the kept energy per tensor', async () => {
    const out = join(dir, 'studio-lora');
    const r = await exportLora(recipe(), out, 4);
    expect(r.verified).toBe(true);
    expect(r.base).toBe(join(dir, 'base'));
    expect(r.files.sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const lora = r.tensors.filter((t) => t.kind === 'lora');
    expect(lora.map((t) => t.name).sort()).toEqual(['lm_head.weight', 'model.layers.0.mlp.up_proj.weight', 'model.layers.0.self_attn.q_proj.weight']);
    expect(r.tensors.filter((t) => t.kind === 'full').map((t) => t.name).sort()).toEqual(['model.embed_tokens.weight', 'model.norm.weight']);
    for (const t of lora) expect(t.keptEnergy).toBeGreaterThan(0);
    // Rank 4 of a 16 × 16 difference of full rank keeps part of it, not all.
    expect(lora.find((t) => t.name.includes('q_proj'))!.keptEnergy).toBeLessThan(1);

    const recipePath = join(dir, 'soup.yaml');
    writeFileSync(recipePath, recipe());
    const merged = await cli(['merge', recipePath, '--out', join(dir, 'cli-soup'), '--backend', 'cpu', '--quiet']);
    expect(merged.code).toBe(0);
    const extracted = await cli(['extract-lora', join(dir, 'cli-soup'), '--base', join(dir, 'base'), '--rank', '4', '--out', join(dir, 'cli-lora'), '--quiet']);
    expect(extracted.stderr).toBe('');
    expect(extracted.code).toBe(0);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect(readFileSync(join(out, f)).equals(readFileSync(join(dir, 'cli-lora', f))), f).toBe(true);
    }
  });

  test('a recipe without a base model, or a rank of 0: one sentence, nothing written', async () => {
    const noBase = 'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n';
    await expect(exportLora(noBase, join(dir, 'no-base'), 4)).rejects.toThrow(
      "soup.yaml: a LoRA adapter is the soup's difference to the recipe's base model, and this recipe has no base_model; choose a method with a base model",
    );
    await expect(exportLora(recipe(), join(dir, 'rank-0'), 0)).rejects.toThrow('the LoRA rank must be a whole number of at least 1, got 0');
    expect(existsSync(join(dir, 'no-base'))).toBe(false);
    expect(existsSync(join(dir, 'rank-0'))).toBe(false);
  });
});
