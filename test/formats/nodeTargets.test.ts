import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileTarget, nodeFolderTarget } from '../../src/node/fileTargets';
import { MAX_OPEN_FILES, nodeFileSource } from '../../src/node/fileSource';
import { readdirSync } from 'node:fs';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { SafetensorsWriter } from '../../src/formats/writer';
import { readTensorChunks } from '../../src/formats/tensorChunks';
import { InputError } from '../../src/errors';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'souplab-targets-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tensors = [
  { name: 'a', dtype: 'F32' as const, shape: [4] },
  { name: 'b', dtype: 'U8' as const, shape: [10] },
];

async function writeAll(w: SafetensorsWriter) {
  await w.append('a', new Uint8Array(16).fill(1));
  await w.append('b', new Uint8Array(10).fill(2));
}

describe('nodeFileTarget', () => {
  it('leaves an existing file untouched until commit, then replaces it', async () => {
    const path = join(dir, 'out.safetensors');
    await writeFile(path, 'previous');
    const w = await SafetensorsWriter.create(nodeFileTarget(path), tensors);
    await w.append('a', new Uint8Array(16));
    expect(await readFile(path, 'utf8')).toBe('previous');
    expect((await readdir(dir)).some((n) => n.startsWith('.out.safetensors.partial-'))).toBe(true);
    await w.append('b', new Uint8Array(10));
    await w.finish();
    expect(await readdir(dir)).toEqual(['out.safetensors']);
    const cp = await openCheckpointPath(path);
    expect([...cp.tensors.keys()]).toEqual(['a', 'b']);
    await cp.close();
  });

  it('abort removes the temporary file and keeps the previous content', async () => {
    const path = join(dir, 'out.safetensors');
    await writeFile(path, 'previous');
    const w = await SafetensorsWriter.create(nodeFileTarget(path), tensors);
    await w.append('a', new Uint8Array(16));
    await w.abort();
    expect(await readdir(dir)).toEqual(['out.safetensors']);
    expect(await readFile(path, 'utf8')).toBe('previous');
  });

  it('a failed write (out of order) leaves nothing behind', async () => {
    const path = join(dir, 'new.safetensors');
    const w = await SafetensorsWriter.create(nodeFileTarget(path), tensors);
    await expect(w.append('b', new Uint8Array(10))).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to overwrite when asked not to, and a folder as a file', async () => {
    const path = join(dir, 'out.safetensors');
    await writeFile(path, 'previous');
    const w = await SafetensorsWriter.create(nodeFileTarget(path, { overwrite: false }), tensors);
    await expect(writeAll(w)).rejects.toThrow(/already exists/);
    expect(await readFile(path, 'utf8')).toBe('previous');
    const v = await SafetensorsWriter.create(nodeFileTarget(dir), tensors);
    await expect(writeAll(v)).rejects.toBeInstanceOf(InputError);
  });

  it('names a missing parent folder in one line', async () => {
    const w = await SafetensorsWriter.create(nodeFileTarget(join(dir, 'no', 'such', 'x.safetensors')), tensors);
    await expect(writeAll(w)).rejects.toThrow(/x.safetensors: cannot create a file there: no such file or folder$/);
  });
});

describe('nodeFolderTarget', () => {
  it('creates the folder, makes every shard and the index visible only at commit', async () => {
    const out = join(dir, 'merged');
    const target = nodeFolderTarget(out);
    const w = await SafetensorsWriter.create(target, tensors, { maxShardBytes: 16 });
    await writeAll(w);
    expect((await readdir(out)).filter((n) => !n.startsWith('.'))).toEqual([]);
    await w.finish();
    expect((await readdir(out)).sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const cp = await openCheckpointPath(out);
    expect(cp.sharded).toBe(true);
    await writeFile(join(out, '.model-00001-of-00002.safetensors.partial-0bad'), 'leftover');
    await writeFile(join(out, 'config.json'), '{}');
    const viaIndex = await openCheckpointPath(join(out, 'model.safetensors.index.json'));
    expect([...viaIndex.extraFiles.keys()]).toEqual(['config.json']);
    expect([...viaIndex.tensors.keys()]).toEqual(['a', 'b']);
    await viaIndex.close();
    const b = cp.tensors.get('b')!;
    const chunks: number[] = [];
    for await (const c of readTensorChunks(b, { chunkBytes: 4 })) chunks.push(...c);
    expect(chunks).toEqual(new Array(10).fill(2));
    await cp.close();
  });

  it('abort removes the temporaries and the folder it created', async () => {
    const out = join(dir, 'merged');
    const w = await SafetensorsWriter.create(nodeFolderTarget(out), tensors, { maxShardBytes: 16 });
    await writeAll(w);
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('replaces an older checkpoint in the folder, keeping unrelated files, or keeps it all on abort', async () => {
    const out = join(dir, 'merged');
    await mkdir(out);
    for (const f of ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json', 'README.md']) {
      await writeFile(join(out, f), 'old');
    }
    const aborted = await SafetensorsWriter.create(nodeFolderTarget(out), tensors, { maxShardBytes: 16 });
    await writeAll(aborted);
    await aborted.abort();
    expect((await readdir(out)).length).toBe(5);
    const w = await SafetensorsWriter.create(nodeFolderTarget(out), tensors);
    await writeAll(w);
    await w.finish();
    expect((await readdir(out)).sort()).toEqual(['README.md', 'model.safetensors']);
  });

  it('rolls back every file when one cannot be moved into place', async () => {
    const out = join(dir, 'merged');
    await mkdir(out);
    await writeFile(join(out, 'model-00001-of-00002.safetensors'), 'old');
    const w = await SafetensorsWriter.create(nodeFolderTarget(out), tensors, { maxShardBytes: 16 });
    await writeAll(w);
    // Something removes the second shard's temporary file before the commit: its rename fails.
    const second = (await readdir(out)).find((n) => n.startsWith('.model-00002-of-00002.safetensors.partial-'));
    expect(second).toBeDefined();
    await rm(join(out, second!));
    await expect(w.finish()).rejects.toThrow(/could not move the finished output into place/);
    expect(await readdir(out)).toEqual(['model-00001-of-00002.safetensors']);
    expect(await readFile(join(out, 'model-00001-of-00002.safetensors'), 'utf8')).toBe('old');
  });
});

describe('nodeFileSource', () => {
  it('reads ranges and names the file in errors', async () => {
    const path = join(dir, 'f.bin');
    await writeFile(path, Uint8Array.from({ length: 100 }, (_, i) => i));
    const s = await nodeFileSource(path);
    expect(s.size).toBe(100);
    expect([...(await s.read(95, 5))]).toEqual([95, 96, 97, 98, 99]);
    await expect(s.read(98, 5)).rejects.toThrow(/runs past the end of the file \(100 bytes\)/);
    await s.close();
    expect([...(await s.read(0, 2))]).toEqual([0, 1]); // reopens after close
    await s.close();
    await expect(nodeFileSource(join(dir, 'missing'))).rejects.toThrow(/missing: no such file or folder$/);
    await expect(nodeFileSource(dir)).rejects.toThrow(/is a folder, not a file$/);
  });

  it('keeps at most MAX_OPEN_FILES descriptors open across many files', async () => {
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds();
    const sources = [];
    for (let i = 0; i < MAX_OPEN_FILES * 3; i++) {
      const path = join(dir, `shard-${i}`);
      await writeFile(path, new Uint8Array([i & 255, 1, 2, 3]));
      sources.push(await nodeFileSource(path));
    }
    let peak = 0;
    const firstBytes = await Promise.all(
      sources.map(async (s) => {
        const b = (await s.read(0, 1))[0];
        peak = Math.max(peak, openFds() - before);
        return b;
      }),
    );
    expect(firstBytes).toEqual(sources.map((_, i) => i & 255));
    expect(peak).toBeLessThanOrEqual(MAX_OPEN_FILES + 1);
    for (const s of sources) expect([...(await s.read(1, 3))]).toEqual([1, 2, 3]);
    // Evicted descriptors close asynchronously: wait for the count to settle (however slow the machine).
    await vi.waitFor(() => expect(openFds() - before).toBeLessThanOrEqual(MAX_OPEN_FILES), { timeout: 30_000, interval: 20 });
    await Promise.all(sources.map((s) => s.close()));
    await vi.waitFor(() => expect(openFds()).toBeLessThanOrEqual(before), { timeout: 30_000, interval: 20 });
  });
});

describe('nodeFileSource descriptor pool', () => {
  it('frees the slot of a file that vanished before its first read', async () => {
    const dir2 = await mkdtemp(join(tmpdir(), 'souplab-fds-'));
    try {
      // More vanished files than slots: a leaked slot per failure would leave none and hang the rest.
      const vanished = MAX_OPEN_FILES + 1;
      const paths = Array.from({ length: vanished + 20 }, (_, i) => join(dir2, `f${i}`));
      for (const p of paths) await writeFile(p, 'abcd');
      const sources = await Promise.all(paths.map((p) => nodeFileSource(p)));
      for (const p of paths.slice(0, vanished)) await rm(p);
      const results = await Promise.allSettled(sources.map((s) => s.read(0, 4)));
      expect(results.filter((r) => r.status === 'rejected').length).toBe(vanished);
      expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/f0: no such file or folder$/);
      // Every slot came back: all the others can still be read, twice over.
      for (const s of sources.slice(vanished)) expect(new TextDecoder().decode(await s.read(1, 2))).toBe('bc');
      await Promise.all(sources.map((s) => s.close()));
    } finally {
      await rm(dir2, { recursive: true, force: true });
    }
  });
});

describe('early flushes while a file is written', () => {
  // 1 MiB between flushes: every few appends starts an fdatasync that the writes do not wait for.
  const specs = [{ name: 'w', dtype: 'U8' as const, shape: [5 << 20] }];
  const block = (k: number) => new Uint8Array(256 << 10).fill(k + 1);

  it('writes the same bytes, and commits only after the last flush and the fsync', async () => {
    const path = join(dir, 'out.safetensors');
    const w = await SafetensorsWriter.create(nodeFileTarget(path, { earlyFlushBytes: 1 << 20 }), specs);
    for (let k = 0; k < 20; k++) await w.append('w', block(k));
    await w.finish();
    const c = await openCheckpointPath(path);
    try {
      const t = c.tensors.get('w')!;
      let k = 0;
      for await (const chunk of readTensorChunks(t, { chunkBytes: 256 << 10 })) expect(chunk, `block ${k}`).toEqual(block(k++));
      expect(k).toBe(20);
    } finally {
      await c.close();
    }
    expect((await readdir(dir)).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('leaves nothing behind when aborted with flushes in flight, in a folder too', async () => {
    const path = join(dir, 'out.safetensors');
    const w = await SafetensorsWriter.create(nodeFileTarget(path, { earlyFlushBytes: 1 << 20 }), specs);
    for (let k = 0; k < 9; k++) await w.append('w', block(k));
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
    const folder = join(dir, 'model');
    const f = await SafetensorsWriter.create(nodeFolderTarget(folder, { earlyFlushBytes: 1 << 20 }), specs);
    for (let k = 0; k < 9; k++) await f.append('w', block(k));
    await f.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});
