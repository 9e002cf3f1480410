import { describe, expect, it } from 'vitest';
import { blobSource, fileHandleSource } from '../../src/formats/browserSources';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { readTensorChunks } from '../../src/formats/tensorChunks';
import { InputError } from '../../src/errors';
import { rawSafetensors } from './helpers';

// Node has the same Blob and File as browsers: the slicing logic runs here on real Blobs.
describe('blobSource', () => {
  const file = rawSafetensors({ w: { dtype: 'U8', shape: [5], data_offsets: [0, 5] } }, new Uint8Array([1, 2, 3, 4, 5])) as Uint8Array<ArrayBuffer>;

  it('reads ranges of a File by slicing, named after the file', async () => {
    const f = new File([file], 'model.safetensors');
    const s = blobSource(f);
    expect(s.name).toBe('model.safetensors');
    const cp = await openCheckpoint(s);
    const chunks: number[][] = [];
    for await (const c of readTensorChunks(cp.tensors.get('w')!, { chunkBytes: 4 })) chunks.push([...c]);
    expect(chunks).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('names a plain Blob as asked, and refuses reads past the end', async () => {
    const s = blobSource(new Blob([file]), 'dropped.safetensors');
    expect(s.name).toBe('dropped.safetensors');
    await expect(s.read(file.length - 2, 4)).rejects.toBeInstanceOf(InputError);
  });

  it('reads a FileSystemFileHandle through its File', async () => {
    const handle = { name: 'h.safetensors', getFile: async () => new File([file], 'h.safetensors') } as unknown as FileSystemFileHandle;
    const s = await fileHandleSource(handle);
    expect((await openCheckpoint(s)).tensors.has('w')).toBe(true);
    const gone = { name: 'gone.safetensors', getFile: async () => Promise.reject(new Error('NotFoundError')) } as unknown as FileSystemFileHandle;
    await expect(fileHandleSource(gone)).rejects.toThrow(/^gone.safetensors: cannot be opened: NotFoundError$/);
  });
});
