/**
 * `souplab extract-lora`: an adapter of rank r merged into its base, extracted again at rank ≥ r, gives
 * back the merge within f32 rounding; a soup of two adapters is one adapter of the summed rank.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { openCheckpointRef } from '../../src/node/openCheckpointRef';
import { cli } from '../support/cliInProcess';
import { randomTensor, readSafetensors, writeModel, type TestTensor } from '../merge/models';

let dir: string;
const MODULES = ['model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.up_proj', 'model.layers.1.mlp.down_proj'];
const SHAPES: Record<string, [number, number]> = { [MODULES[0]]: [24, 24], [MODULES[1]]: [40, 24], [MODULES[2]]: [24, 40] };

function writeAdapter(path: string, r: number, seed: number, extra: { modulesToSave?: TestTensor[] } = {}): void {
  mkdirSync(path, { recursive: true });
  const tensors: TestTensor[] = [];
  for (const m of MODULES) {
    const [out, inF] = SHAPES[m];
    tensors.push(randomTensor(`base_model.model.${m}.lora_A.weight`, 'F32', [r, inF], seed++, { scale: 0.3 }));
    tensors.push(randomTensor(`base_model.model.${m}.lora_B.weight`, 'F32', [out, r], seed++, { scale: 0.3 }));
  }
  tensors.push(...(extra.modulesToSave ?? []));
  writeFileSync(join(path, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 2 * r, target_modules: ['q_proj', 'up_proj', 'down_proj'], modules_to_save: extra.modulesToSave ? ['norm'] : null }));
  writeFileSync(join(path, 'adapter_model.safetensors'), readFileSync(writeModel(join(path, 'x.safetensors'), tensors)));
  rmSync(join(path, 'x.safetensors'));
}

async function tensorsOf(ref: string): Promise<Map<string, Float32Array>> {
  const c = await openCheckpointRef(ref);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of c.tensors) {
    const bytes = (await t.source.read(t.info.byteOffset, t.info.byteLength)).slice();
    out.set(name, t.info.dtype === 'F32' ? new Float32Array(bytes.buffer) : new Float32Array(0));
  }
  await c.close();
  return out;
}

/** ulp of an f32 of magnitude |x|. */
function ulpOf(x: number): number {
  const e = Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -126)), -126);
  return 2 ** (e - 23);
}

/**
 * Whether `back` (base + the extracted f32 factors) is `soup` up to f32 rounding: per element, `ulps`
 * ulps at the scale of the soup's and base's values (the merge's own rounding), half an ulp of the
 * tensor's largest value (that rounding as the truncation redistributes it), and the rounding a
 * rank-r product of f32 factors carries, (r + 2)·2⁻²⁴·Σₖ|B_ik·A_kj| (the standard dot-product bound).
 * Returns the worst ratio of the error to that allowance (≤ 1 passes).
 */
function worstError(back: Float32Array, soup: Float32Array, w: Float32Array, a: Float32Array, b: Float32Array, rank: number, cols: number, ulps: number): number {
  // The merge's rounding errors (up to half an ulp of the largest values) are not of low rank: the
  // truncation keeps their projection, which spreads them over the tensor, smaller ones included.
  const tensorRounding = ulpOf(soup.reduce((m, x) => Math.max(m, Math.abs(x)), 0)) / 2;
  let worst = 0;
  for (let i = 0; i < back.length; i++) {
    const [row, col] = [Math.floor(i / cols), i % cols];
    let products = 0;
    for (let k = 0; k < rank; k++) products += Math.abs(b[row * rank + k] * a[k * cols + col]);
    const allowed = ulps * ulpOf(Math.max(Math.abs(soup[i]), Math.abs(w[i]))) + tensorRounding + (rank + 2) * 2 ** -24 * products;
    worst = Math.max(worst, Math.abs(back[i] - soup[i]) / allowed);
  }
  return worst;
}

async function expectReproduced(soupDir: string, adapterDir: string, rank: number, ulps: number): Promise<void> {
  const soup = await tensorsOf(soupDir);
  const base = await tensorsOf(join(dir, 'base'));
  const back = await tensorsOf(`${join(dir, 'base')}+${adapterDir}`);
  const factors = readSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors'))).tensors;
  const f32 = (name: string) => new Float32Array(factors.get(name)!.data.slice().buffer);
  for (const m of MODULES) {
    const e = worstError(back.get(`${m}.weight`)!, soup.get(`${m}.weight`)!, base.get(`${m}.weight`)!, f32(`base_model.model.${m}.lora_A.weight`), f32(`base_model.model.${m}.lora_B.weight`), rank, SHAPES[m][1], ulps);
    expect(e, `${m} at rank ${rank}`).toBeLessThanOrEqual(1);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-extract-lora-'));
  const base: TestTensor[] = [randomTensor('model.embed_tokens.weight', 'F32', [30, 24], 1)];
  MODULES.forEach((m, i) => base.push(randomTensor(`${m}.weight`, 'F32', SHAPES[m], 2 + i)));
  base.push(randomTensor('model.norm.weight', 'F32', [24], 9));
  writeModel(join(dir, 'base'), base, { layout: 'folder', extraFiles: { 'config.json': '{}' } });
  writeAdapter(join(dir, 'ad3'), 3, 100, { modulesToSave: [randomTensor('base_model.model.model.norm.weight', 'F32', [24], 50)] });
  writeAdapter(join(dir, 'ad2'), 2, 200);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('souplab extract-lora', () => {
  test('a rank-3 adapter merged and extracted at rank 3 and 5 reproduces the merge within f32 rounding', async () => {
    writeFileSync(join(dir, 'one.yaml'), 'merge_method: linear\nmodels:\n  - model: base+ad3\n    parameters:\n      weight: 1\nout_dtype: float32\n');
    expect((await cli(['merge', join(dir, 'one.yaml'), '--out', join(dir, 'soup3'), '--backend', 'cpu'])).code).toBe(0);
    const soup = await tensorsOf(join(dir, 'soup3'));
    for (const rank of [3, 5]) {
      const out = join(dir, `x${rank}`);
      const r = await cli(['extract-lora', join(dir, 'soup3'), '--base', join(dir, 'base'), '--rank', String(rank), '--out', out]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`  tensors   3 as LoRA factors, 1 whole (modules_to_save), 1 unchanged\n`);
      expect(r.stdout).toMatch(/energy {4}kept 100\.0000% on average/);
      expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      expect(config).toMatchObject({ peft_type: 'LORA', r: rank, lora_alpha: rank, target_modules: MODULES, modules_to_save: ['model.norm'] });
      const keys = [...readSafetensors(readFileSync(join(out, 'adapter_model.safetensors'))).tensors.keys()];
      expect(keys).toContain(`base_model.model.${MODULES[0]}.lora_A.weight`);
      expect(keys).toContain('base_model.model.model.norm.weight');
      await expectReproduced(join(dir, 'soup3'), out, rank, 1);
      const back = await tensorsOf(`${join(dir, 'base')}+${out}`);
      expect(back.get('model.norm.weight')).toEqual(soup.get('model.norm.weight'));
    }
  });

  test('a linear soup of a rank-3 and a rank-2 adapter is one rank-5 adapter; at rank 2 it keeps less energy', async () => {
    writeFileSync(join(dir, 'two.yaml'), 'merge_method: linear\nmodels:\n  - model: base+ad2\n  - model: base+ad3\n    parameters:\n      weight: 1\ndtype: float32\n'.replace('  - model: base+ad2\n', '  - model: base+ad2\n    parameters:\n      weight: 1\n'));
    expect((await cli(['merge', join(dir, 'two.yaml'), '--out', join(dir, 'soup5'), '--backend', 'cpu'])).code).toBe(0);
    const r5 = await cli(['extract-lora', join(dir, 'soup5'), '--base', join(dir, 'base'), '--rank', '5', '--out', join(dir, 'y5')]);
    expect(r5.code).toBe(0);
    // Each adapted input was rounded once, then their average: two roundings at the soup's scale.
    await expectReproduced(join(dir, 'soup5'), join(dir, 'y5'), 5, 2);
    const r2 = await cli(['extract-lora', join(dir, 'soup5'), '--base', join(dir, 'base'), '--rank', '2', '--out', join(dir, 'y2'), '--quiet']);
    expect(r2.code).toBe(0);
    const c = await openCheckpointPath(join(dir, 'y2', 'adapter_model.safetensors'));
    expect(c.tensors.get(`base_model.model.${MODULES[0]}.lora_A.weight`)!.info.shape).toEqual([2, 24]);
    await c.close();
    const kept = await cli(['extract-lora', join(dir, 'soup5'), '--base', join(dir, 'base'), '--rank', '2', '--out', join(dir, 'y2b')]);
    const energies = [...kept.stdout.matchAll(/kept (\d+\.\d+)%$/gm)].map((x) => Number(x[1]));
    expect(energies.length).toBe(3);
    for (const e of energies) expect(e).toBeLessThan(100);
  });

  test('refusals: rank 0, an output inside an input, a model of another shape; nothing written', async () => {
    const zero = await cli(['extract-lora', join(dir, 'soup3'), '--base', join(dir, 'base'), '--rank', '0', '--out', join(dir, 'z')]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain("--rank must be a whole number of at least 1, got '0'");
    const inside = await cli(['extract-lora', join(dir, 'soup3'), '--base', join(dir, 'base'), '--rank', '2', '--out', join(dir, 'base', 'lora')]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/would overwrite input/);
    writeModel(join(dir, 'other'), [randomTensor('model.embed_tokens.weight', 'F32', [31, 24], 1)], { layout: 'folder' });
    const other = await cli(['extract-lora', join(dir, 'other'), '--base', join(dir, 'base'), '--rank', '2', '--out', join(dir, 'z')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/tensor model\.embed_tokens\.weight has shape \[31, 24\], the base .*base has \[30, 24\]/);
    expect(existsSync(join(dir, 'z'))).toBe(false);
  });
});
