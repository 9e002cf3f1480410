import { describe, expect, it } from 'vitest';
import { readHeader, SafetensorsError, firstDuplicateTopLevelKey, printable } from '../../src/formats/header';
import { countingSource, rawSafetensors, source } from './helpers';

const t = (dtype: string, shape: unknown[], offsets: unknown[]) => ({ dtype, shape, data_offsets: offsets });

async function problem(bytes: Uint8Array, name = 'model-b.safetensors'): Promise<string> {
  try {
    await readHeader(source(bytes, name));
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${printable(name)}: `)).toBe(true);
    return message;
  }
  throw new Error('expected the header to be rejected');
}

describe('readHeader accepts valid headers', () => {
  it('parses tensors in offset order with absolute offsets, metadata, empty and 0-rank tensors', async () => {
    const header = {
      __metadata__: { format: 'pt' },
      b: t('F32', [2], [8, 16]),
      a: t('F64', [], [0, 8]),
      empty: t('BF16', [0, 4], [16, 16]),
    };
    const file = rawSafetensors(header, 16);
    const h = await readHeader(source(file));
    const n = JSON.stringify(header).length;
    expect(h.headerLength).toBe(n);
    expect(h.dataStart).toBe(8 + n);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.map((x) => [x.name, x.dtype, x.shape, x.byteOffset, x.byteLength])).toEqual([
      ['a', 'F64', [], 8 + n, 8],
      ['b', 'F32', [2], 8 + n + 8, 8],
      ['empty', 'BF16', [0, 4], 8 + n + 16, 0],
    ]);
  });

  it('accepts leading and trailing spaces and a null __metadata__', async () => {
    const h = await readHeader(source(rawSafetensors(`  {"__metadata__": null, "x": {"dtype":"U8","shape":[3],"data_offsets":[0,3]}}    `, 3)));
    expect(h.tensors[0].name).toBe('x');
    expect(h.metadata).toEqual({});
  });

  it('accepts a file with no tensors', async () => {
    const h = await readHeader(source(rawSafetensors('{}')));
    expect(h.tensors).toEqual([]);
  });

  it('reads only the header bytes', async () => {
    const src = countingSource(source(rawSafetensors({ w: t('F32', [1000, 1000], [0, 4_000_000]) }, 4_000_000)));
    await readHeader(src);
    expect(src.bytesRead).toBeLessThan(200);
  });
});

describe('readHeader rejects bad input with one line naming the file, the tensor and the problem', () => {
  it('an empty file', async () => {
    expect(await problem(new Uint8Array(0))).toBe('model-b.safetensors: the file is empty');
  });

  it('fewer than 8 bytes', async () => {
    expect(await problem(new Uint8Array(5))).toMatch(/only 5 bytes.*8-byte header length/);
  });

  it('a header length past the end of the file', async () => {
    expect(await problem(rawSafetensors('{}', 0, { headerLength: 50n }))).toMatch(/header length 50 runs past the end of the file \(10 bytes/);
  });

  it('a header length over 100 MB', async () => {
    expect(await problem(rawSafetensors('{}', 0, { headerLength: 100_000_001n }))).toMatch(/header length 100,000,001 is over the 100,000,000-byte limit/);
    expect(await problem(rawSafetensors('{}', 0, { headerLength: 2n ** 63n }))).toMatch(/header length 9223372036854775808 is over/);
  });

  it('a header that is not JSON', async () => {
    expect(await problem(rawSafetensors('{"a": {"dtype": "F32",'))).toMatch(/the header is not JSON \(/);
    expect(await problem(rawSafetensors(new Uint8Array([0xff, 0xfe, 0x7b]).reduce((s, b) => s + String.fromCharCode(b), '')))).toMatch(/not JSON|UTF-8/);
  });

  it('a header that is not valid UTF-8', async () => {
    const file = rawSafetensors('{"a":1}');
    file[10] = 0xff;
    expect(await problem(file)).toMatch(/not valid UTF-8/);
  });

  it('a header that is JSON but not an object', async () => {
    expect(await problem(rawSafetensors('[1, 2]'))).toMatch(/JSON but not an object \(it is an array\)/);
    expect(await problem(rawSafetensors('42'))).toMatch(/not an object \(it is a number\)/);
    expect(await problem(rawSafetensors('null'))).toMatch(/not an object \(it is null\)/);
  });

  it('an entry that is not a tensor description', async () => {
    expect(await problem(rawSafetensors({ w: 3 }))).toMatch(/tensor w: entry is the number 3/);
  });

  it('an unknown dtype', async () => {
    expect(await problem(rawSafetensors({ 'model.w': t('F12', [1], [0, 2]) }, 2))).toMatch(/^model-b.safetensors: tensor model.w: unknown dtype "F12"/);
  });

  it('a negative dimension', async () => {
    expect(await problem(rawSafetensors({ w: t('F32', [2, -1], [0, 0]) }))).toBe(
      'model-b.safetensors: tensor w: shape [2,-1] has a negative dimension -1',
    );
  });

  it('a non-integer dimension', async () => {
    expect(await problem(rawSafetensors({ w: t('F32', [2.5], [0, 10]) }, 10))).toMatch(/tensor w: shape \[2.5\] has a dimension that is not an integer: 2.5/);
    expect(await problem(rawSafetensors({ w: t('F32', ['2'], [0, 8]) }, 8))).toMatch(/not an integer: "2"/);
  });

  it('offsets that are not integers', async () => {
    expect(await problem(rawSafetensors({ w: t('U8', [2], [0, 1.5]) }, 2))).toMatch(/tensor w: data_offsets \[0,1.5\] must be two non-negative integers/);
    expect(await problem(rawSafetensors({ w: t('U8', [2], [-2, 0]) }, 2))).toMatch(/must be two non-negative integers/);
    expect(await problem(rawSafetensors({ w: t('U8', [2], [0]) }, 2))).toMatch(/data_offsets is a list \[0\], not \[begin, end\]/);
  });

  it('offsets beyond 2^53', async () => {
    expect(await problem(rawSafetensors('{"w":{"dtype":"U8","shape":[2],"data_offsets":[18014398509481984,18014398509481986]}}', 2))).toMatch(
      /data_offsets .* are beyond 2\^53 bytes/,
    );
  });

  it('offsets that overlap', async () => {
    const msg = await problem(rawSafetensors({ a: t('U8', [4], [0, 4]), b: t('U8', [4], [2, 6]) }, 6));
    expect(msg).toBe('model-b.safetensors: tensor b: data_offsets [2, 6] overlap tensor a, which ends at 4');
  });

  it('offsets that leave a hole', async () => {
    expect(await problem(rawSafetensors({ a: t('U8', [4], [0, 4]), b: t('U8', [4], [6, 10]) }, 10))).toBe(
      'model-b.safetensors: tensor b: data_offsets [6, 10] leave a hole of 2 bytes after tensor a',
    );
    expect(await problem(rawSafetensors({ a: t('U8', [4], [2, 6]) }, 6))).toMatch(/hole of 2 bytes at the start of the data buffer/);
  });

  it('offsets that run past the end', async () => {
    expect(await problem(rawSafetensors({ a: t('F32', [4], [0, 16]) }, 12))).toMatch(
      /tensor a: data_offsets \[0, 16\] run past the end of the file \(the data buffer holds 12 bytes/,
    );
  });

  it('a data buffer longer than the tensors', async () => {
    expect(await problem(rawSafetensors({ a: t('U8', [4], [0, 4]) }, 7))).toMatch(/3 bytes after the last tensor/);
  });

  it('offsets whose end comes before their begin', async () => {
    expect(await problem(rawSafetensors({ a: t('U8', [0], [4, 0]) }, 4))).toMatch(/end before they begin/);
  });

  it('a byte length that does not match the shape', async () => {
    expect(await problem(rawSafetensors({ 'model.layers.3.mlp.up_proj.weight': t('F32', [2, 2], [0, 12]) }, 12))).toBe(
      'model-b.safetensors: tensor model.layers.3.mlp.up_proj.weight: data_offsets [0, 12] hold 12 bytes, but F32 [2,2] needs 16',
    );
  });

  it('a sub-byte dtype with a fractional byte count', async () => {
    expect(await problem(rawSafetensors({ q: t('F4', [3], [0, 2]) }, 2))).toMatch(/3 elements of 4 bits, not a whole number of bytes/);
  });

  it('__metadata__ values that are not strings', async () => {
    expect(await problem(rawSafetensors({ __metadata__: { format: 'pt', step: 3 } }))).toBe(
      'model-b.safetensors: __metadata__ value for "step" is the number 3, not a string',
    );
    expect(await problem(rawSafetensors({ __metadata__: ['pt'] }))).toMatch(/__metadata__ must be an object of strings, not a list/);
  });

  it('duplicate tensor names', async () => {
    const json = '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}';
    expect(await problem(rawSafetensors(json, 2))).toBe('model-b.safetensors: tensor w: appears more than once in the header');
  });

  it('keeps messages on one line when names hold control characters', async () => {
    const msg = await problem(rawSafetensors({ 'bad\nname': t('F99', [1], [0, 1]) }, 1), 'odd\nfile');
    expect(msg).toMatch(/^"odd\\nfile": tensor "bad\\nname": unknown dtype/);
  });
});

describe('firstDuplicateTopLevelKey', () => {
  it('ignores nested keys and escaped quotes, finds escaped duplicates', () => {
    expect(firstDuplicateTopLevelKey('{"a":{"x":1,"x":2},"b":[{"a":1}],"c\\"":"a"}')).toBeUndefined();
    expect(firstDuplicateTopLevelKey('{"a\\u0062":1, "b":{"ab":2}, "ab": 3}')).toBe('ab');
  });
});

describe('readHeader rejects what the reference parser rejects, though JSON.parse accepts it', () => {
  it('a header that starts with a UTF-8 byte-order mark', async () => {
    const bom = '\uFEFF{"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}';
    expect(await problem(rawSafetensors(bom, 3))).toBe(
      'model-b.safetensors: the header starts with a UTF-8 byte-order mark, which safetensors does not allow (saved by a text editor?)',
    );
  });

  it('offsets or shapes written as decimals, exponents or -0', async () => {
    for (const [text, token] of [
      ['{"x":{"dtype":"F64","shape":[1],"data_offsets":[0.0,8.0]}}', '0.0'],
      ['{"x":{"dtype":"F64","shape":[1.0],"data_offsets":[0,8]}}', '1.0'],
      ['{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8e0]}}', '8e0'],
      ['{"x":{"dtype":"F64","shape":[1],"data_offsets":[-0,8]}}', '-0'],
    ]) {
      expect(await problem(rawSafetensors(text, 8))).toBe(
        `model-b.safetensors: tensor x: shape and data_offsets must be written as plain integers (8, not 8.0, 8e0 or -0); found ${token}`,
      );
    }
  });

  it('but numbers inside metadata strings and names are text', async () => {
    const h = await readHeader(source(rawSafetensors('{"__metadata__":{"lr":"1.5e-4"},"w.0.5e":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', 2)));
    expect(h.metadata).toEqual({ lr: '1.5e-4' });
    expect(h.tensors[0].name).toBe('w.0.5e');
  });
});
