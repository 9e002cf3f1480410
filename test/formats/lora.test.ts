/**
 * LoRA adapters as virtual checkpoints, checked against PEFT's published formulas (layer.py
 * get_delta_weight, variants.py DoraLinearVariant.merge_safe), written here on the [out, in] weight
 * independently of src/formats/lora: W' = W + s·B·A, s = α/r or α/√r (rsLoRA); DoRA
 * W' = m ⊙ V / ‖V‖ per output row; fan_in_fan_out stores W transposed. Computed in f64, rounded once.
 */
import { describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import { applyLoraAdapter } from '../../src/formats/lora/adaptedCheckpoint';
import { openLoraAdapter } from '../../src/formats/lora/adapter';
import type { ByteSource } from '../../src/formats/types';
import { decodeFloats, randomTensor, safetensorsBytes, type TestTensor } from '../merge/models';

const OUT = 24;
const IN = 20;
const R = 4;
const RANK = R;
const Q = 'model.layers.0.self_attn.q_proj';
const V = 'model.layers.0.self_attn.v_proj';

interface Case {
  alpha?: number;
  rslora?: boolean;
  dora?: boolean;
  fifo?: boolean;
  factorDtype?: 'F32' | 'BF16';
}

function baseTensors(fifo: boolean): TestTensor[] {
  const shape = fifo ? [IN, OUT] : [OUT, IN];
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [30, IN], 1),
    randomTensor(`${Q}.weight`, 'BF16', shape, 2),
    randomTensor(`${V}.weight`, 'F32', shape, 3),
    randomTensor('model.norm.weight', 'BF16', [IN], 4),
    randomTensor('lm_head.weight', 'BF16', [30, IN], 5),
  ];
}

function adapterFiles(c: Case, extra: { config?: Record<string, unknown>; tensors?: TestTensor[]; rank?: number; ranks?: Record<string, number> } = {}): Map<string, ByteSource> {
  const fd = c.factorDtype ?? 'F32';
  const tensors: TestTensor[] = [];
  const rankOf = (m: string) => extra.ranks?.[m] ?? extra.rank ?? R;
  const r = extra.rank ?? R;
  [Q, V].forEach((m, i) => {
    const r = rankOf(m);
    tensors.push(randomTensor(`base_model.model.${m}.lora_A.weight`, fd, [r, IN], 10 + i, { scale: 0.3 }));
    tensors.push(randomTensor(`base_model.model.${m}.lora_B.weight`, fd, [OUT, r], 20 + i, { scale: 0.3 }));
    if (c.dora) tensors.push(randomTensor(`base_model.model.${m}.lora_magnitude_vector`, 'F32', [OUT], 30 + i, { scale: 2 }));
  });
  tensors.push(...(extra.tensors ?? []));
  const config = {
    peft_type: 'LORA',
    r,
    lora_alpha: c.alpha ?? 16,
    use_rslora: c.rslora ?? false,
    use_dora: c.dora ?? false,
    fan_in_fan_out: c.fifo ?? false,
    target_modules: ['q_proj', 'v_proj'],
    modules_to_save: null,
    base_model_name_or_path: 'tiny/base',
    ...extra.config,
  };
  return new Map<string, ByteSource>([
    ['adapter_config.json', bytesSource(new TextEncoder().encode(JSON.stringify(config)), 'adapter_config.json')],
    ['adapter_model.safetensors', bytesSource(safetensorsBytes(tensors), 'adapter_model.safetensors')],
  ]);
}

const values = (t: TestTensor) => Float64Array.from(decodeFloats(t.dtype, t.data));

/** PEFT's merge on the [out, in] weight, in f64; returned in the stored layout, rounded to f32 once. */
function peftOracle(baseT: TestTensor, tensors: Map<string, TestTensor>, module: string, c: Case, R = RANK, alpha = c.alpha ?? 16): Float32Array {
  const w = values(baseT);
  const a = values(tensors.get(`base_model.model.${module}.lora_A.weight`)!);
  const b = values(tensors.get(`base_model.model.${module}.lora_B.weight`)!);
  const s = c.rslora ? alpha / Math.sqrt(R) : alpha / R;
  const wAt = (o: number, i: number) => (c.fifo ? w[i * OUT + o] : w[o * IN + i]);
  const merged: number[][] = [];
  for (let o = 0; o < OUT; o++) {
    const row: number[] = [];
    for (let i = 0; i < IN; i++) {
      let ba = 0;
      for (let k = 0; k < R; k++) ba += b[o * R + k] * a[k * IN + i];
      row.push(wAt(o, i) + s * ba);
    }
    merged.push(row);
  }
  if (c.dora) {
    const m = values(tensors.get(`base_model.model.${module}.lora_magnitude_vector`)!);
    merged.forEach((row, o) => {
      const norm = Math.hypot(...row);
      row.forEach((v, i) => (row[i] = (m[o] / norm) * v));
    });
  }
  const out = new Float32Array(OUT * IN);
  for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) out[c.fifo ? i * OUT + o : o * IN + i] = merged[o][i];
  return out;
}

function ulps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(ia[i] - ib[i]));
  return worst;
}

async function adapted(c: Case, files = adapterFiles(c)) {
  const baseList = baseTensors(c.fifo ?? false);
  const base = await openCheckpoint(bytesSource(safetensorsBytes(baseList), 'model.safetensors'), 'base');
  const adapter = await openLoraAdapter(files, 'adapter');
  return { baseList, checkpoint: applyLoraAdapter(base, adapter), adapterTensors: await tensorsOf(files.get('adapter_model.safetensors')!) };
}

async function tensorsOf(source: ByteSource): Promise<Map<string, TestTensor>> {
  const c = await openCheckpoint(source);
  const out = new Map<string, TestTensor>();
  for (const [name, t] of c.tensors) out.set(name, { name, dtype: t.info.dtype as TestTensor['dtype'], shape: t.info.shape, data: await t.source.read(t.info.byteOffset, t.info.byteLength) });
  return out;
}

async function readAll(c: Awaited<ReturnType<typeof adapted>>['checkpoint'], name: string): Promise<Float32Array> {
  const t = c.tensors.get(name)!;
  const bytes = await t.source.read(t.info.byteOffset, t.info.byteLength);
  return new Float32Array(bytes.slice().buffer);
}

describe('a LoRA adapter merged into its base, against PEFT\'s formulas', () => {
  test.each<[string, Case]>([
    ['LoRA, α/r', {}],
    ['rsLoRA, α/√r', { rslora: true, alpha: 7 }],
    ['DoRA', { dora: true }],
    ['fan_in_fan_out', { fifo: true }],
    ['DoRA with fan_in_fan_out', { dora: true, fifo: true }],
    ['bf16 factors', { factorDtype: 'BF16', alpha: 32 }],
  ])('%s: within 1 ulp of W + s·BA rounded once', async (_what, c) => {
    const { baseList, checkpoint, adapterTensors } = await adapted(c);
    for (const module of [Q, V]) {
      const name = `${module}.weight`;
      const t = checkpoint.tensors.get(name)!;
      expect(t.info.dtype).toBe('F32');
      expect(t.info.shape).toEqual(c.fifo ? [IN, OUT] : [OUT, IN]);
      const got = await readAll(checkpoint, name);
      const want = peftOracle(baseList.find((b) => b.name === name)!, adapterTensors, module, c);
      expect(ulps(got, want)).toBeLessThanOrEqual(1);
      // The adapter changed the weight (a test that cannot fail would not).
      expect(ulps(got, Float32Array.from(values(baseList.find((b) => b.name === name)!)))).toBeGreaterThan(1000);
    }
    // Untouched tensors are the base's own bytes.
    expect(checkpoint.tensors.get('model.norm.weight')!.info.dtype).toBe('BF16');
    expect(checkpoint.adaptedTensors.sort()).toEqual([`${Q}.weight`, `${V}.weight`]);
  });

  test('rank_pattern and alpha_pattern: each module its own rank and alpha (PEFT get_pattern_key)', async () => {
    const c: Case = {};
    const files = adapterFiles(c, { ranks: { [V]: 2 }, config: { rank_pattern: { 'self_attn.v_proj': 2 }, alpha_pattern: { 'q_proj': 5 } } });
    const { baseList, checkpoint, adapterTensors } = await adapted(c, files);
    const oracle: Record<string, Float32Array> = { [Q]: peftOracle(baseList[1], adapterTensors, Q, c, 4, 5), [V]: peftOracle(baseList[2], adapterTensors, V, c, 2, 16) };
    for (const m of [Q, V]) expect(ulps(await readAll(checkpoint, `${m}.weight`), oracle[m]), m).toBeLessThanOrEqual(1);
  });

  test('a read of any byte range equals the same bytes of the whole tensor (streamed in chunks)', async () => {
    for (const c of [{ dora: true, fifo: true }, { dora: true }]) {
      const { checkpoint } = await adapted(c);
      const t = checkpoint.tensors.get(`${Q}.weight`)!;
      const whole = await t.source.read(0, t.info.byteLength);
      for (const [offset, length] of [[0, 4], [6, 50], [77, 300], [t.info.byteLength - 9, 9], [40, 0]]) {
        expect(await t.source.read(offset, length)).toEqual(whole.subarray(offset, offset + length));
      }
    }
  });

  test('modules_to_save tensors replace the base\'s', async () => {
    const head = randomTensor('base_model.model.lm_head.weight', 'BF16', [30, IN], 99);
    const files = adapterFiles({}, { config: { modules_to_save: ['lm_head'] }, tensors: [head] });
    const { checkpoint } = await adapted({}, files);
    const t = checkpoint.tensors.get('lm_head.weight')!;
    expect(await t.source.read(t.info.byteOffset, t.info.byteLength)).toEqual(head.data);
    expect(checkpoint.adaptedTensors).toContain('lm_head.weight');
  });
});

describe('adapters that cannot be merged are refused with one sentence naming the cause', () => {
  const refusal = async (files: Map<string, ByteSource>, fifo = false): Promise<string> => {
    try {
      const base = await openCheckpoint(bytesSource(safetensorsBytes(baseTensors(fifo)), 'model.safetensors'), 'base');
      applyLoraAdapter(base, await openLoraAdapter(files, 'adapter'));
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  test('a pickled adapter_model.bin', async () => {
    const files = adapterFiles({});
    files.delete('adapter_model.safetensors');
    files.set('adapter_model.bin', bytesSource(new Uint8Array(10), 'adapter_model.bin'));
    expect(await refusal(files)).toMatch(/^adapter: the adapter's weights are in adapter_model\.bin, a pickle, which SoupLab does not load/);
  });

  test('rank 0', async () => {
    expect(await refusal(adapterFiles({}, { config: { r: 0 } }))).toBe('adapter: adapter_config.json key "r" is 0; a LoRA rank must be at least 1');
  });

  test('an adapter for another base (shapes)', async () => {
    expect(await refusal(adapterFiles({}), true)).toBe(
      `adapter does not fit base: tensor ${Q}.weight has shape [${IN}, ${OUT}], but the adapter's lora_A [${R}, ${IN}] and lora_B [${OUT}, ${R}] need [${OUT}, ${IN}] (the adapter was trained on tiny/base)`,
    );
  });

  test('an adapter for another base (a module the base lacks)', async () => {
    const extra = [randomTensor('base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight', 'F32', [R, IN], 1), randomTensor('base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight', 'F32', [OUT, R], 2)];
    expect(await refusal(adapterFiles({}, { tensors: extra, config: { target_modules: ['q_proj', 'v_proj', 'gate_proj'] } }))).toBe(
      'adapter does not fit base: it adapts module model.layers.0.mlp.gate_proj, but the base has no tensor model.layers.0.mlp.gate_proj.weight (the adapter was trained on tiny/base)',
    );
  });

  test('target_modules that do not select the adapted modules', async () => {
    expect(await refusal(adapterFiles({}, { config: { target_modules: ['k_proj'] } }))).toMatch(/^adapter\/adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight adapts .* which target_modules \(\["k_proj"\]\) does not select/);
  });

  test('an unsupported LoRA part, by its key', async () => {
    const extra = [randomTensor('base_model.model.model.embed_tokens.lora_embedding_A', 'F32', [R, 30], 1)];
    expect(await refusal(adapterFiles({}, { tensors: extra }))).toMatch(/tensor base_model\.model\.model\.embed_tokens\.lora_embedding_A is a LoRA part SoupLab cannot merge/);
  });

  test('an unsupported setting, by its key', async () => {
    expect(await refusal(adapterFiles({}, { config: { layers_to_transform: [0] } }))).toBe('adapter: adapter_config.json key "layers_to_transform" is set (a layer selection), which SoupLab cannot merge yet');
  });

  test('a rank that rank_pattern contradicts', async () => {
    expect(await refusal(adapterFiles({}, { config: { rank_pattern: { v_proj: 2 } } }))).toMatch(/tensor base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight has rank 4, but adapter_config\.json says r = 2 \(rank_pattern\)$/);
  });

  test('an adapter folder named as a model', async () => {
    await expect(openCheckpoint(adapterFiles({}), 'my-adapter')).rejects.toThrow("my-adapter is a LoRA adapter, not a model: name it with its base, as 'path/to/base+my-adapter'");
  });
});
