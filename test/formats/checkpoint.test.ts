import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { InputError } from '../../src/errors';
import { SafetensorsError } from '../../src/formats/header';
import { readTensorChunks } from '../../src/formats/tensorChunks';
import type { ByteSource } from '../../src/formats/types';
import { rawSafetensors, source } from './helpers';

const u8 = (name: string, values: number[]) => ({ name, values });

/** A shard holding U8 tensors with the given values, in order. */
function shard(file: string, tensors: { name: string; values: number[] }[]): [string, ByteSource] {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'U8', shape: [t.values.length], data_offsets: [offset, offset + t.values.length] };
    offset += t.values.length;
  }
  return [file, source(rawSafetensors(header, new Uint8Array(tensors.flatMap((t) => t.values))), `ckpt/${file}`)];
}

function index(weightMap: Record<string, string>): [string, ByteSource] {
  const json = JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap });
  return ['model.safetensors.index.json', source(new TextEncoder().encode(json), 'ckpt/model.safetensors.index.json')];
}

async function rejected(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(InputError);
  const message = (e as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

async function bytesOf(t: Parameters<typeof readTensorChunks>[0]): Promise<number[]> {
  const out: number[] = [];
  for await (const c of readTensorChunks(t, { chunkBytes: 4 })) out.push(...c);
  return out;
}

const shard1 = shard('model-00001-of-00002.safetensors', [u8('a', [1, 2]), u8('b', [3])]);
const shard2 = shard('model-00002-of-00002.safetensors', [u8('c', [4, 5, 6])]);

describe('openCheckpoint', () => {
  it('resolves every tensor of a sharded folder to its shard, keeping the other files', async () => {
    const config: [string, ByteSource] = ['config.json', source(new TextEncoder().encode('{}'), 'config.json')];
    const files = new Map([config, shard2, index({ a: shard1[0], b: shard1[0], c: shard2[0] }), shard1]);
    const cp = await openCheckpoint(files, 'ckpt');
    expect(cp.sharded).toBe(true);
    expect(cp.files.map((f) => f.name)).toEqual([shard1[0], shard2[0]]);
    expect([...cp.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(cp.tensors.get('c')?.file).toBe(shard2[0]);
    expect(await bytesOf(cp.tensors.get('c')!)).toEqual([4, 5, 6]);
    expect(await bytesOf(cp.tensors.get('b')!)).toEqual([3]);
    expect([...cp.extraFiles.keys()]).toEqual(['config.json']);
  });

  it('opens a folder with a single model.safetensors, or one lone .safetensors file', async () => {
    const single = shard('model.safetensors', [u8('x', [9])]);
    const cp = await openCheckpoint(new Map([single, ['tokenizer.json', single[1]]]), 'ckpt');
    expect(cp.sharded).toBe(false);
    expect([...cp.tensors.keys()]).toEqual(['x']);
    expect([...cp.extraFiles.keys()]).toEqual(['tokenizer.json']);
    const lone = await openCheckpoint(new Map([shard('weights.safetensors', [u8('y', [1])])]), 'ckpt');
    expect([...lone.tensors.keys()]).toEqual(['y']);
  });

  it('opens a single source under its file name', async () => {
    const cp = await openCheckpoint(shard('m.safetensors', [u8('x', [1])])[1]);
    expect(cp.name).toBe('m.safetensors');
    expect(cp.files[0].name).toBe('m.safetensors');
  });

  it('rejects an index that names a missing shard', async () => {
    const files = new Map([shard1, index({ a: shard1[0], b: shard1[0], c: shard2[0] })]);
    expect(await rejected(openCheckpoint(files, 'ckpt'))).toBe(
      'ckpt/model.safetensors.index.json: names shard model-00002-of-00002.safetensors (for 1 tensor, e.g. c), which is not in the folder',
    );
  });

  it('rejects a tensor that the index names but the shard lacks', async () => {
    const files = new Map([shard1, shard2, index({ a: shard1[0], b: shard1[0], c: shard2[0], d: shard2[0] })]);
    expect(await rejected(openCheckpoint(files, 'ckpt'))).toMatch(
      /^ckpt\/model.safetensors.index.json: tensor d: the index puts it in model-00002-of-00002.safetensors, which does not contain it$/,
    );
  });

  it('rejects a tensor found in two shards', async () => {
    const dup = shard('model-00002-of-00002.safetensors', [u8('c', [4]), u8('a', [7])]);
    const files = new Map([shard1, dup, index({ a: shard1[0], b: shard1[0], c: shard2[0] })]);
    expect(await rejected(openCheckpoint(files, 'ckpt'))).toBe(
      'ckpt/model-00002-of-00002.safetensors: tensor a: is also in shard model-00001-of-00002.safetensors; a tensor must be in exactly one shard',
    );
  });

  it('rejects a shard tensor the index does not list, or lists elsewhere', async () => {
    expect(await rejected(openCheckpoint(new Map([shard1, shard2, index({ a: shard1[0], c: shard2[0] })]), 'ckpt'))).toMatch(/tensor b: is not listed in model.safetensors.index.json/);
    expect(await rejected(openCheckpoint(new Map([shard1, shard2, index({ a: shard1[0], b: shard2[0], c: shard2[0] })]), 'ckpt'))).toMatch(
      /tensor b: the index puts it in model-00002-of-00002.safetensors, but it is in model-00001-of-00002.safetensors/,
    );
  });

  it('rejects a bad index and a bad shard header', async () => {
    const notJson: [string, ByteSource] = ['model.safetensors.index.json', source(new TextEncoder().encode('{"weight_map": '), 'ckpt/model.safetensors.index.json')];
    expect(await rejected(openCheckpoint(new Map([shard1, notJson]), 'ckpt'))).toMatch(/index.json: is not valid JSON/);
    const noMap: [string, ByteSource] = ['model.safetensors.index.json', source(new TextEncoder().encode('{"metadata": {}}'), 'ckpt/i')];
    expect(await rejected(openCheckpoint(new Map([shard1, noMap]), 'ckpt'))).toMatch(/has no "weight_map" object/);
    const escape = new Map([shard1, index({ a: '../model.safetensors' })]);
    expect(await rejected(openCheckpoint(escape, 'ckpt'))).toMatch(/not a file in the checkpoint folder/);
    const broken: [string, ByteSource] = ['model-00002-of-00002.safetensors', source(new Uint8Array(3), 'ckpt/model-00002-of-00002.safetensors')];
    const e = await openCheckpoint(new Map([shard1, broken, index({ a: shard1[0], b: shard1[0], c: broken[0] })]), 'ckpt').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message).toMatch(/^ckpt\/model-00002-of-00002.safetensors: the file has only 3 bytes/);
  });

  it('rejects a folder without a checkpoint, or with several unindexed files', async () => {
    expect(await rejected(openCheckpoint(new Map([['config.json', shard1[1]]]), 'ckpt'))).toBe('ckpt: no .safetensors file in this folder');
    expect(await rejected(openCheckpoint(new Map([shard1, shard2]), 'ckpt'))).toMatch(/^ckpt: 2 .safetensors files .* but no model.safetensors.index.json/);
  });
});
