import { describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import type { ByteSource } from '../../src/formats/types';
import { assertPreflight, preflight, PreflightError, preflightSummary, type PreflightIngredient } from '../../src/merge/preflight';
import { int64Tensor, randomTensor, safetensorsBytes, type TestTensor } from './models';

type Spec = [name: string, dtype: 'F32' | 'F16' | 'BF16' | 'I64' | 'U8', shape: number[]];

/** A checkpoint whose headers describe `specs`; counts the tensor bytes read (there must be none). */
async function model(label: string, specs: Spec[], reads: { count: number } = { count: 0 }): Promise<PreflightIngredient> {
  const tensors: TestTensor[] = specs.map(([name, dtype, shape], i) =>
    dtype === 'I64' ? int64Tensor(name, shape, shape.length === 0 ? [1n] : Array(shape.reduce((a, b) => a * b, 1)).fill(0n)) : dtype === 'U8' ? { name, dtype, shape, data: new Uint8Array(shape.reduce((a, b) => a * b, 1)) } : randomTensor(name, dtype, shape, i),
  );
  const bytes = safetensorsBytes(tensors);
  const inner = bytesSource(bytes, label);
  const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const source: ByteSource = {
    name: label,
    size: inner.size,
    read(offset, length) {
      if (offset + length > headerEnd) reads.count++;
      return inner.read(offset, length);
    },
  };
  const checkpoint: Checkpoint = await openCheckpoint(source);
  return { label, checkpoint };
}

const LLAMA: Spec[] = [
  ['model.embed_tokens.weight', 'BF16', [32, 8]],
  ['model.layers.0.self_attn.q_proj.weight', 'BF16', [8, 8]],
  ['model.layers.0.mlp.up_proj.weight', 'BF16', [16, 8]],
  ['model.layers.3.mlp.up_proj.weight', 'BF16', [16, 8]],
  ['model.norm.weight', 'BF16', [8]],
  ['lm_head.weight', 'BF16', [32, 8]],
];

const replace = (specs: Spec[], name: string, to: Spec | undefined): Spec[] =>
  specs.flatMap((s) => (s[0] === name ? (to ? [to] : []) : [s]));

describe('preflight', () => {
  test('identical models: no errors, nothing read but the headers', async () => {
    const reads = { count: 0 };
    const r = preflight([await model('model-a.safetensors', LLAMA, reads), await model('model-b.safetensors', LLAMA, reads)]);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.reference).toBe('model-a.safetensors');
    expect(reads.count).toBe(0);
    expect(() => assertPreflight(r)).not.toThrow();
  });

  test('a shape mismatch names ingredient, tensor and both shapes', async () => {
    const b = replace(LLAMA, 'model.layers.3.mlp.up_proj.weight', ['model.layers.3.mlp.up_proj.weight', 'BF16', [11, 8]]);
    const r = preflight([await model('model-a', LLAMA), await model('model-b.safetensors', b)]);
    expect(r.errors.map((e) => e.message)).toEqual(['model-b.safetensors: tensor model.layers.3.mlp.up_proj.weight has shape [11, 8], model-a has [16, 8]']);
    expect(r.errors[0]).toMatchObject({ code: 'shape-mismatch', ingredient: 'model-b.safetensors', tensor: 'model.layers.3.mlp.up_proj.weight' });
    expect(() => assertPreflight(r)).toThrow(PreflightError);
  });

  test('embedding and lm_head rows that differ are called a vocabulary size difference', async () => {
    const b = replace(replace(LLAMA, 'model.embed_tokens.weight', ['model.embed_tokens.weight', 'BF16', [34, 8]]), 'lm_head.weight', ['lm_head.weight', 'BF16', [34, 8]]);
    const r = preflight([await model('model-a', LLAMA), await model('model-b', b)]);
    expect(r.errors.map((e) => e.code)).toEqual(['vocab-size', 'vocab-size']);
    expect(r.errors[0].message).toBe(
      "model-b: vocabulary size 34 differs from model-a's 32 (tensor model.embed_tokens.weight has shape [34, 8], model-a has [32, 8]); models with different vocabularies cannot be averaged",
    );
  });

  test('missing and extra tensors', async () => {
    const b = [...replace(LLAMA, 'model.layers.3.mlp.up_proj.weight', undefined), ['model.layers.4.mlp.up_proj.weight', 'BF16', [16, 8]] as Spec];
    const r = preflight([await model('model-a', LLAMA), await model('model-b', b)]);
    expect(r.errors.map((e) => e.message)).toEqual([
      'model-b: tensor model.layers.3.mlp.up_proj.weight is missing (model-a has it, BF16 [16, 8])',
      'model-b: has tensor model.layers.4.mlp.up_proj.weight (BF16 [16, 8]), which model-a does not have',
    ]);
    expect(r.errors.map((e) => e.code)).toEqual(['missing-tensor', 'extra-tensor']);
  });

  test('tied embeddings everywhere: an info, no error', async () => {
    const tied = replace(LLAMA, 'lm_head.weight', undefined);
    const r = preflight([await model('a', tied), await model('b', tied)]);
    expect(r.errors).toEqual([]);
    expect(r.infos.map((i) => i.message)).toEqual([
      'tied embeddings: no lm_head.weight in the models; the output layer shares model.embed_tokens.weight, which is merged once',
    ]);
  });

  test('tied in one model and not in the other: said so, both ways', async () => {
    const tied = replace(LLAMA, 'lm_head.weight', undefined);
    const r1 = preflight([await model('untied', LLAMA), await model('tied', tied)]);
    expect(r1.errors).toHaveLength(1);
    expect(r1.errors[0]).toMatchObject({ code: 'tied-embeddings', ingredient: 'tied', tensor: 'lm_head.weight' });
    expect(r1.errors[0].message).toBe(
      'tied: tensor lm_head.weight is missing: tied ties its embeddings (its output layer shares model.embed_tokens.weight), while untied has its own lm_head.weight [32, 8]; models with tied and untied embeddings cannot be merged tensor by tensor',
    );
    const r2 = preflight([await model('tied', tied), await model('untied', LLAMA)]);
    expect(r2.errors[0].message).toBe(
      'untied: has its own lm_head.weight [32, 8], while tied ties its embeddings (no lm_head.weight; its output layer shares model.embed_tokens.weight); models with tied and untied embeddings cannot be merged tensor by tensor',
    );
  });

  test('float dtypes that differ: one warning per ingredient and dtype, not an error', async () => {
    const b = LLAMA.map(([n, , s]) => [n, n.includes('layers') ? 'F16' : 'BF16', s] as Spec);
    const r = preflight([await model('a', LLAMA), await model('b', b)]);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.message)).toEqual([
      'b: 3 tensors are F16 where a has BF16 (model.layers.0.self_attn.q_proj.weight, model.layers.0.mlp.up_proj.weight, model.layers.3.mlp.up_proj.weight); each is read exactly and merged in f32',
    ]);
  });

  test('non-float tensors: copied (info); a float tensor that is an integer elsewhere is an error', async () => {
    const a: Spec[] = [...LLAMA, ['bn.num_batches_tracked', 'I64', []], ['mask', 'U8', [4]]];
    const r = preflight([await model('a', a), await model('b', a)]);
    expect(r.errors).toEqual([]);
    expect(r.infos.map((i) => i.message)).toEqual(['2 non-float tensors (I64, U8) copied from a, not averaged: bn.num_batches_tracked, mask']);

    const b = replace(a, 'model.norm.weight', ['model.norm.weight', 'I64', [8]]);
    const r2 = preflight([await model('a', a), await model('b', b)]);
    expect(r2.errors.map((e) => e.message)).toEqual(['b: tensor model.norm.weight is I64, a has BF16: a float tensor cannot be averaged with a non-float one']);
  });

  test('the reference is the base when given', async () => {
    const b = replace(LLAMA, 'model.norm.weight', ['model.norm.weight', 'BF16', [9]]);
    const r = preflight([await model('ft', LLAMA), await model('base', b)], 1);
    expect(r.reference).toBe('base');
    expect(r.errors[0].message).toBe('ft: tensor model.norm.weight has shape [8], base has [9]');
  });

  test('a model without tensors', async () => {
    const r = preflight([await model('empty', []), await model('b', LLAMA)]);
    expect(r.errors.map((e) => e.message)).toEqual(['empty: holds no tensors: nothing to merge']);
  });

  test('the error of many problems counts them', async () => {
    const b = LLAMA.map(([n, d, s]) => [n, d, [...s, 1]] as Spec);
    const r = preflight([await model('a', LLAMA), await model('b', b)]);
    expect(r.errors).toHaveLength(6);
    expect(new PreflightError(r).message).toBe('b: tensor model.embed_tokens.weight has shape [32, 8, 1], a has [32, 8] (and 5 more problems found before reading any tensor)');
  });
});

describe('another model among the ingredients', () => {
  const fixtures = new URL('../../../shared/fixtures/', import.meta.url).pathname;

  test('burn_mnist among llama-shaped models: one lead line naming it, its per-tensor problems set apart', async () => {
    const { nodeFileSource } = await import('../../src/node/fileSource');
    const mnist: PreflightIngredient = { label: 'burn_mnist', checkpoint: await openCheckpoint(await nodeFileSource(`${fixtures}burn_mnist.safetensors`, 'burn_mnist')) };
    const ingredients = [await model('llama-a', LLAMA), await model('llama-b', LLAMA), mnist];
    const report = preflight(ingredients);
    const { lead, details, rest } = preflightSummary(report);
    expect(lead.map((e) => e.message)).toEqual(['burn_mnist: a different model — no tensors in common with the others']);
    expect(lead[0].ingredient).toBe('burn_mnist');
    expect(report.errors[0]).toBe(lead[0]);
    // Every tensor of each model is a problem: the 6 llama tensors missing, the 20 mnist ones extra.
    expect(details).toHaveLength(LLAMA.length + mnist.checkpoint.tensors.size);
    expect(details.every((e) => e.ingredient === 'burn_mnist')).toBe(true);
    expect(rest).toEqual([]);
  });

  test('the odd one out is named even as the reference; a model sharing most tensors is not "different"', async () => {
    const other: Spec[] = [['conv1.weight', 'F32', [4, 1, 3, 3]], ['fc.weight', 'F32', [10, 4]]];
    const odd = await model('mnist-like', other);
    const report = preflight([odd, await model('llama-a', LLAMA), await model('llama-b', LLAMA)]);
    const { lead, details, rest } = preflightSummary(report);
    expect(lead.map((e) => e.message)).toEqual(['mnist-like: a different model — no tensors in common with the others']);
    expect(details.length).toBeGreaterThan(0);
    expect(rest).toEqual([]);

    // One tensor renamed out of six: the same model with a problem, told tensor by tensor.
    const renamed = replace(LLAMA, 'model.norm.weight', ['model.final_norm.weight', 'BF16', [8]]);
    const near = preflight([await model('llama-a', LLAMA), await model('llama-c', renamed)]);
    expect(preflightSummary(near).lead).toEqual([]);
    expect(near.errors.map((e) => e.code).sort()).toEqual(['extra-tensor', 'missing-tensor']);

    // Two of six in common, with two models: named against the other by name.
    const few = preflight([await model('llama-a', LLAMA), await model('half', [...LLAMA.slice(0, 2), ...other])]);
    expect(preflightSummary(few).lead.map((e) => e.message)).toEqual(['half: a different model — only 2 of its 4 tensors in common with llama-a']);
  });
});
