import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { readHeader } from '../../src/formats/header';
import { SafetensorsWriter, WriterUsageError } from '../../src/formats/writer';
import { InputError } from '../../src/errors';
import { MemoryTarget, source } from './helpers';

const specs = [
  { name: 'b.weight', dtype: 'BF16' as const, shape: [3] },
  { name: '0', dtype: 'F32' as const, shape: [] },
  { name: 'empty', dtype: 'F64' as const, shape: [0, 5] },
  { name: 'a.bias', dtype: 'U8' as const, shape: [5] },
];

describe('SafetensorsWriter', () => {
  it('writes a header padded with spaces to a multiple of 8, tensors in the given order, metadata carried', async () => {
    const target = new MemoryTarget();
    const w = await SafetensorsWriter.create(target, specs, { metadata: { format: 'pt' } });
    expect(w.files).toEqual(['model.safetensors']);
    await w.append('b.weight', new Uint8Array([1, 2, 3, 4]));
    await w.append('b.weight', new Uint8Array([5, 6]));
    await w.append('0', new Uint8Array([7, 8, 9, 10]));
    await w.append('a.bias', new Uint8Array([11, 12, 13, 14, 15]));
    await w.finish();
    const file = target.committed.get('model.safetensors')!;
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(file.subarray(8, 8 + n));
    expect(text.startsWith('{"__metadata__":{"format":"pt"},"b.weight"')).toBe(true);
    expect(text.trimEnd().length).toBeGreaterThan(n - 8);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect([...file.subarray(8 + n)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const h = await readHeader(source(file));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.map((t) => [t.name, t.shape])).toEqual([['b.weight', [3]], ['0', []], ['empty', [0, 5]], ['a.bias', [5]]]);
  });

  it('shards by the maximum size and writes a correct index', async () => {
    const target = new MemoryTarget();
    const big = [
      { name: 'x', dtype: 'U8' as const, shape: [6] },
      { name: 'y', dtype: 'U8' as const, shape: [3] },
      { name: 'z', dtype: 'U8' as const, shape: [12] }, // larger than a shard: alone in its own
      { name: 'e', dtype: 'U8' as const, shape: [0] },
      { name: 'w', dtype: 'U8' as const, shape: [2] },
    ];
    const w = await SafetensorsWriter.create(target, big, { maxShardBytes: 10, metadata: { format: 'pt' } });
    expect(w.files).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    for (const t of big) await w.append(t.name, new Uint8Array(t.shape[0]).fill(t.name.charCodeAt(0)));
    await w.finish();
    const index = JSON.parse(new TextDecoder().decode(target.committed.get('model.safetensors.index.json')));
    expect(index).toEqual({
      metadata: { total_size: 23 },
      weight_map: {
        e: 'model-00003-of-00003.safetensors',
        w: 'model-00003-of-00003.safetensors',
        x: 'model-00001-of-00003.safetensors',
        y: 'model-00001-of-00003.safetensors',
        z: 'model-00002-of-00003.safetensors',
      },
    });
    const cp = await openCheckpoint(target.sources(), 'out');
    expect(cp.sharded).toBe(true);
    expect(cp.metadata).toEqual({ format: 'pt' });
    expect([...cp.tensors.keys()]).toEqual(['x', 'y', 'z', 'e', 'w']);
  });

  it('writes an empty checkpoint', async () => {
    const target = new MemoryTarget();
    const w = await SafetensorsWriter.create(target, []);
    await w.finish();
    expect((await readHeader(source(target.committed.get('model.safetensors')!))).tensors).toEqual([]);
  });

  it('refuses out-of-order, excess and missing bytes, and aborts the target', async () => {
    const outOfOrder = new MemoryTarget();
    let w = await SafetensorsWriter.create(outOfOrder, specs);
    await w.append('b.weight', new Uint8Array(2));
    await expect(w.append('a.bias', new Uint8Array(5))).rejects.toThrow(/tensor b.weight has 2 of its 6 bytes; cannot start a.bias/);
    expect(outOfOrder.state).toBe('aborted');
    expect(outOfOrder.committed.size).toBe(0);
    await expect(w.append('b.weight', new Uint8Array(2))).rejects.toThrow(/already aborted/);

    const excess = new MemoryTarget();
    w = await SafetensorsWriter.create(excess, specs);
    await expect(w.append('b.weight', new Uint8Array(8))).rejects.toThrow(/8 bytes appended, but BF16 \[3\] holds 6/);
    expect(excess.state).toBe('aborted');

    const missing = new MemoryTarget();
    w = await SafetensorsWriter.create(missing, specs);
    await w.append('b.weight', new Uint8Array(6));
    await expect(w.finish()).rejects.toBeInstanceOf(WriterUsageError);
    expect(missing.state).toBe('aborted');
    expect(missing.committed.size).toBe(0);

    const unknown = new MemoryTarget();
    w = await SafetensorsWriter.create(unknown, specs);
    await expect(w.append('nope', new Uint8Array(1))).rejects.toThrow(/cannot start nope|not in the output list/);
  });

  it('rejects bad output specs and sharding into a single file', async () => {
    const t = new MemoryTarget('out.safetensors', true);
    await expect(SafetensorsWriter.create(t, [specs[0], specs[0]])).rejects.toThrow(/b.weight: is listed twice/);
    await expect(SafetensorsWriter.create(t, [{ name: 'q', dtype: 'F4', shape: [3] }])).rejects.toThrow(/not a whole number of bytes/);
    await expect(SafetensorsWriter.create(t, [{ name: '__metadata__', dtype: 'U8', shape: [1] }])).rejects.toThrow(/reserved/);
    await expect(SafetensorsWriter.create(t, specs, { maxShardBytes: 4 })).rejects.toBeInstanceOf(InputError);
  });
});
