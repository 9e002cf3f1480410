/**
 * `souplab merge` with mergekit's `base+adapter` references: the adapter is merged into its base tensor
 * by tensor while the soup streams, and gives the same bytes as merging a checkpoint in which the
 * adapter was merged beforehand.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openCheckpointRef } from '../../src/node/openCheckpointRef';
import { cli } from '../support/cliInProcess';
import { decodeFloats, encodeFloats, randomTensor, readSafetensors, writeModel, type TestTensor } from '../merge/models';

let dir: string;
const Q0 = 'model.layers.0.self_attn.q_proj';
const UP1 = 'model.layers.1.mlp.up_proj';

function model(seed: number): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [50, 16], seed),
    randomTensor(`${Q0}.weight`, 'BF16', [16, 16], seed + 1),
    randomTensor('model.layers.0.mlp.up_proj.weight', 'BF16', [40, 16], seed + 2),
    randomTensor('model.layers.1.self_attn.q_proj.weight', 'BF16', [16, 16], seed + 3),
    randomTensor(`${UP1}.weight`, 'BF16', [40, 16], seed + 4),
    randomTensor('model.norm.weight', 'BF16', [16], seed + 5),
    randomTensor('lm_head.weight', 'BF16', [50, 16], seed + 6),
  ];
}

const BASE = model(10);
const OTHER = model(20);
const R = 3;
const ALPHA = 6;
const factors: Record<string, { a: TestTensor; b: TestTensor }> = {
  [Q0]: { a: randomTensor(`base_model.model.${Q0}.lora_A.weight`, 'F32', [R, 16], 31, { scale: 0.2 }), b: randomTensor(`base_model.model.${Q0}.lora_B.weight`, 'F32', [16, R], 32, { scale: 0.2 }) },
  [UP1]: { a: randomTensor(`base_model.model.${UP1}.lora_A.weight`, 'BF16', [R, 16], 33, { scale: 0.2 }), b: randomTensor(`base_model.model.${UP1}.lora_B.weight`, 'BF16', [40, R], 34, { scale: 0.2 }) },
};

function writeAdapter(path: string, config: Record<string, unknown> = {}): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: ALPHA, target_modules: ['q_proj', 'up_proj'], base_model_name_or_path: 'base', ...config }));
  writeModel(join(path, 'adapter_model.safetensors'), Object.values(factors).flatMap((f) => [f.a, f.b]));
}

/** W + (α/r)·B·A from the test's own loops, f64, rounded to f32 once. */
function loraOracle(module: string): Float32Array {
  const w = decodeFloats('BF16', BASE.find((t) => t.name === `${module}.weight`)!.data);
  const a = decodeFloats(factors[module].a.dtype, factors[module].a.data);
  const b = decodeFloats(factors[module].b.dtype, factors[module].b.data);
  const [out] = factors[module].b.shape;
  const out32 = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < 16; i++) {
      let ba = 0;
      for (let k = 0; k < R; k++) ba += b[o * R + k] * a[k * 16 + i];
      out32[o * 16 + i] = w[o * 16 + i] + (ALPHA / R) * ba;
    }
  }
  return out32;
}

function readOutput(path: string): Map<string, TestTensor> {
  const out = new Map<string, TestTensor>();
  for (const f of readdirSync(path).filter((n) => n.endsWith('.safetensors'))) for (const [k, v] of readSafetensors(readFileSync(join(path, f))).tensors) out.set(k, v);
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-lora-'));
  writeModel(join(dir, 'base'), BASE, { layout: 'folder', extraFiles: { 'config.json': '{"architectures": ["LlamaForCausalLM"]}', 'tokenizer.json': '{"model": {}}' } });
  writeModel(join(dir, 'other'), OTHER, { layout: 'folder' });
  writeAdapter(join(dir, 'adapter'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('souplab merge with base+adapter', () => {
  test('one adapted model: the adapted tensors are W + s·BA (1 ulp), the rest the base; the recipe keeps base+adapter', async () => {
    writeFileSync(join(dir, 'one.yaml'), 'merge_method: linear\nmodels:\n  - model: base+adapter\n    parameters:\n      weight: 1\nout_dtype: float32\n');
    const r = await cli(['merge', join(dir, 'one.yaml'), '--out', join(dir, 'out-one'), '--backend', 'cpu']);
    expect(r.stderr).toBe('note: base+adapter: LoRA adapter (r 3, α 6) merged into 2 tensors of its base as they are read (F32)\n');
    expect(r.code).toBe(0);
    const out = readOutput(join(dir, 'out-one'));
    for (const module of [Q0, UP1]) {
      const got = new Int32Array(out.get(`${module}.weight`)!.data.slice().buffer);
      const want = new Int32Array(loraOracle(module).buffer);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst, module).toBeLessThanOrEqual(1);
    }
    const norm = BASE.find((t) => t.name === 'model.norm.weight')!;
    expect(out.get('model.norm.weight')!.data).toEqual(encodeFloats('F32', decodeFloats('BF16', norm.data)));
    expect(readFileSync(join(dir, 'out-one', 'recipe.yaml'), 'utf8')).toContain('model: base+adapter');
    expect(existsSync(join(dir, 'out-one', 'config.json'))).toBe(true);
  });

  test('in a task_arithmetic soup: the same bytes as the soup of a checkpoint with the adapter merged beforehand', async () => {
    // The merged-beforehand checkpoint, read whole from the adapted checkpoint.
    const adapted = await openCheckpointRef(`${join(dir, 'base')}+${join(dir, 'adapter')}`);
    const premerged: TestTensor[] = [];
    for (const [name, t] of adapted.tensors) {
      premerged.push({ name, dtype: t.info.dtype as TestTensor['dtype'], shape: t.info.shape, data: await t.source.read(t.info.byteOffset, t.info.byteLength) });
    }
    await adapted.close();
    writeModel(join(dir, 'premerged'), premerged, { layout: 'folder' });
    const recipe = (first: string) =>
      `merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: ${first}\n    parameters:\n      weight: 0.6\n  - model: other\n    parameters:\n      weight: 0.4\ndtype: float32\nout_dtype: bfloat16\n`;
    writeFileSync(join(dir, 'streamed.yaml'), recipe('base+adapter'));
    writeFileSync(join(dir, 'premerged.yaml'), recipe('premerged'));
    const a = await cli(['merge', join(dir, 'streamed.yaml'), '--out', join(dir, 'out-streamed'), '--backend', 'cpu']);
    const b = await cli(['merge', join(dir, 'premerged.yaml'), '--out', join(dir, 'out-premerged'), '--backend', 'cpu']);
    expect([a.code, b.code]).toEqual([0, 0]);
    const sa = readOutput(join(dir, 'out-streamed'));
    const sb = readOutput(join(dir, 'out-premerged'));
    expect([...sa.keys()].sort()).toEqual([...sb.keys()].sort());
    for (const [name, t] of sa) expect(t.data, name).toEqual(sb.get(name)!.data);
  });

  test('an adapter for another base: one sentence, exit 2, nothing written', async () => {
    writeAdapter(join(dir, 'wide-adapter'), {});
    const wide = { a: randomTensor(`base_model.model.${Q0}.lora_A.weight`, 'F32', [R, 32], 1), b: randomTensor(`base_model.model.${Q0}.lora_B.weight`, 'F32', [32, R], 2) };
    writeModel(join(dir, 'wide-adapter', 'adapter_model.safetensors'), [wide.a, wide.b]);
    writeFileSync(join(dir, 'wide.yaml'), 'merge_method: linear\nmodels:\n  - model: base+wide-adapter\n  - model: other\n');
    const r = await cli(['merge', join(dir, 'wide.yaml'), '--out', join(dir, 'out-wide'), '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^souplab merge: \S*wide\.yaml line 3: model base\+wide-adapter: .*wide-adapter does not fit .*base: tensor model\.layers\.0\.self_attn\.q_proj\.weight has shape \[16, 16\], but the adapter's lora_A \[3, 32\] and lora_B \[32, 3\] need \[32, 32\] \(the adapter was trained on base\)\n$/);
    expect(existsSync(join(dir, 'out-wide'))).toBe(false);
  });

  test('an output into the adapter folder is refused', async () => {
    const r = await cli(['merge', join(dir, 'one.yaml'), '--out', join(dir, 'adapter'), '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would overwrite input model base\+adapter/);
    expect(readdirSync(join(dir, 'adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  test('souplab inspect base+adapter shows the adapted tensors as the merge reads them', async () => {
    const r = await cli(['inspect', `${join(dir, 'base')}+${join(dir, 'adapter')}`, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { tensors: { name: string; dtype: string }[] };
    const dtypes = Object.fromEntries(report.tensors.map((t) => [t.name, t.dtype]));
    expect(dtypes[`${Q0}.weight`]).toBe('F32');
    expect(dtypes[`${UP1}.weight`]).toBe('F32');
    expect(dtypes['model.norm.weight']).toBe('BF16');
  });

  test('a missing adapter is named as the adapter', async () => {
    writeFileSync(join(dir, 'missing.yaml'), 'merge_method: linear\nmodels:\n  - model: base+nowhere\n  - model: other\n');
    const r = await cli(['merge', join(dir, 'missing.yaml'), '--out', join(dir, 'out-missing'), '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.yaml line 3: adapter nowhere not found/);
  });
});
