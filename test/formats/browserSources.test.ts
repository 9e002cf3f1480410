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

  describe('readInto (streamed through one reused buffer)', () => {
    // 10 MB of a position-dependent pattern: more than the 4 MB bounce buffer, so reads span pieces.
    const size = 10_000_003;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >>> 11)) & 0xff;
    const expectRange = (got: Uint8Array, offset: number) => {
      const want = data.subarray(offset, offset + got.length);
      const bad = got.findIndex((b, i) => b !== want[i]);
      expect(bad, `first wrong byte at ${offset + bad}`).toBe(-1);
    };

    it('reads consecutive, jumping and backward ranges exactly, into shared memory too', async () => {
      const s = blobSource(new File([data], 'big.safetensors'));
      const reads: [number, number][] = [
        [0, 5_000_000], // spans two pieces of the bounce buffer
        [5_000_000, 3], // continues the open stream
        [5_000_003, 4_000_000],
        [9_500_000, 500_003], // jumps forward to the end
        [17, 1_000], // backward: reopens
        [size, 0],
      ];
      for (const [offset, length] of reads) {
        const target = new Uint8Array(new SharedArrayBuffer(length + 16), 8, length);
        await s.readInto(offset, target);
        expectRange(target, offset);
      }
      await s.close();
    });

    it('queues concurrent reads of one source and answers each with its own range', async () => {
      const s = blobSource(new Blob([data]), 'queued');
      const ranges = Array.from({ length: 8 }, (_, k) => [k * 1_250_000, 1_250_000] as const);
      // Issued all at once, out of order: each gets its bytes.
      const order = [3, 0, 1, 2, 7, 4, 5, 6];
      const targets = order.map((k) => new Uint8Array(ranges[k][1]));
      await Promise.all(order.map((k, i) => s.readInto(ranges[k][0], targets[i])));
      order.forEach((k, i) => expectRange(targets[i], ranges[k][0]));
      await s.close();
    });

    it('refuses a range past the end before reading, and names the source', async () => {
      const s = blobSource(new Blob([data]), 'short.safetensors');
      await expect(s.readInto(size - 2, new Uint8Array(4))).rejects.toThrow(/^short\.safetensors: read of 4 bytes at offset 10000001 runs past the end/);
      // The source still reads after the refusal.
      const t = new Uint8Array(10);
      await s.readInto(size - 10, t);
      expectRange(t, size - 10);
    });

    it('reads what read() reads, and reads again after close()', async () => {
      const s = blobSource(new Blob([data]), 'again');
      const t = new Uint8Array(3_000_000);
      await s.readInto(1_234_567, t);
      expectRange(t, 1_234_567);
      expectRange(await s.read(1_234_567, 3_000_000), 1_234_567);
      await s.close();
      const u = new Uint8Array(100);
      await s.readInto(1_234_567, u);
      expectRange(u, 1_234_567);
    });
  });
});
