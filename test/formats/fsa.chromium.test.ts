import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright';
import { chromiumPath, openChromiumPage, type ChromiumPage } from '../support/chromiumPage';

// The File System Access targets and sources run in real Chromium against OPFS (real
// FileSystemFileHandles and FileSystemWritableFileStreams), served by Vite from localhost.
let chromium: ChromiumPage | undefined;
let page: Page;

beforeAll(async () => {
  chromium = await openChromiumPage(5391);
  page = chromium.page;
}, 120_000);

afterAll(async () => {
  await chromium?.close();
});

/** Runs `body` (an async function body) in the page with the formats modules and a clean OPFS folder. */
async function inPage<T>(body: string): Promise<T> {
  const script = `(async () => {
    const { SafetensorsWriter } = await import('/src/formats/writer.ts');
    const { directoryHandleTarget, fileHandleTarget } = await import('/src/formats/fsaTargets.ts');
    const { fileHandleSource, blobSource } = await import('/src/formats/browserSources.ts');
    const { openCheckpoint } = await import('/src/formats/checkpoint.ts');
    const { readTensorChunks } = await import('/src/formats/tensorChunks.ts');
    const root = await navigator.storage.getDirectory();
    for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
    const names = async (dir) => { const out = []; for await (const k of dir.keys()) out.push(k); return out.sort(); };
    const text = async (dir, name) => (await (await dir.getFileHandle(name)).getFile()).text();
    const specs = [{ name: 'a', dtype: 'F32', shape: [4] }, { name: 'b', dtype: 'BF16', shape: [2, 3] }];
    const writeAll = async (w) => { await w.append('a', new Uint8Array(16).fill(1)); await w.append('b', new Uint8Array(12).fill(2)); };
    ${body}
  })()`;
  return page.evaluate(script) as Promise<T>;
}

describe.skipIf(!existsSync(chromiumPath))('File System Access targets in Chromium (OPFS)', () => {
  it('a folder target writes shards and index visible only after commit, and reads back', async () => {
    const r = await inPage<{ before: string[]; after: string[]; sharded: boolean; b: number[] }>(`
      const dir = await root.getDirectoryHandle('out', { create: true });
      const w = await SafetensorsWriter.create(directoryHandleTarget(dir), specs, { maxShardBytes: 16 });
      await writeAll(w);
      const before = (await names(dir)).filter((n) => !n.endsWith('.crswap'));
      const sizes = [];
      for (const n of before) sizes.push((await (await dir.getFileHandle(n)).getFile()).size);
      await w.finish();
      const after = await names(dir);
      const files = new Map();
      for (const n of after) files.set(n, await fileHandleSource(await dir.getFileHandle(n)));
      const cp = await openCheckpoint(files, 'out');
      const b = [];
      for await (const c of readTensorChunks(cp.tensors.get('b'), { chunkBytes: 4 })) b.push(...c);
      return { before: before.map((n, i) => n + ':' + sizes[i]), after, sharded: cp.sharded, b };
    `);
    // Before commit the entries exist (created empty) but hold nothing.
    expect(r.before).toEqual(['model-00001-of-00002.safetensors:0', 'model-00002-of-00002.safetensors:0']);
    expect(r.after).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    expect(r.sharded).toBe(true);
    expect(r.b).toEqual(new Array(12).fill(2));
  });

  it('abort keeps the previous files and removes the entries it created', async () => {
    const r = await inPage<{ names: string[]; old: string }>(`
      const dir = await root.getDirectoryHandle('out', { create: true });
      const old = await (await dir.getFileHandle('model.safetensors', { create: true })).createWritable();
      await old.write('previous'); await old.close();
      const w = await SafetensorsWriter.create(directoryHandleTarget(dir), specs, { maxShardBytes: 16 });
      await writeAll(w);
      await w.abort();
      const fresh = await SafetensorsWriter.create(directoryHandleTarget(dir), specs);
      await fresh.append('a', new Uint8Array(16));
      await fresh.append('b', new Uint8Array(3)).catch(() => undefined);
      await fresh.append('a', new Uint8Array(1)).catch(() => undefined); // out of order: aborts
      return { names: await names(dir), old: await text(dir, 'model.safetensors') };
    `);
    expect(r.names).toEqual(['model.safetensors']);
    expect(r.old).toBe('previous');
  });

  it('a cancelled folder export leaves no swap entry, however soon the folder is listed', async () => {
    // Chromium deletes an aborted stream's .crswap after abort() resolves; the target waits for it.
    // Many rounds, because the browser's clean-up wins the race most of the time.
    const leftovers = await inPage<string[]>(`
      const dir = await root.getDirectoryHandle('out', { create: true });
      const old = await (await dir.getFileHandle('model.safetensors', { create: true })).createWritable();
      await old.write('previous'); await old.close();
      const seen = [];
      for (let round = 0; round < 100; round++) {
        const w = await SafetensorsWriter.create(directoryHandleTarget(dir), specs, { maxShardBytes: round % 2 ? 16 : 1e9 });
        await w.append('a', new Uint8Array(16));
        await w.abort();
        const n = await names(dir);
        if (n.join() !== 'model.safetensors') seen.push(round + ': ' + n.join());
      }
      return seen;
    `);
    expect(leftovers).toEqual([]);
  });

  it('a folder commit replaces an older sharded checkpoint', async () => {
    const r = await inPage<string[]>(`
      const dir = await root.getDirectoryHandle('out', { create: true });
      for (const n of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'config.json']) {
        const s = await (await dir.getFileHandle(n, { create: true })).createWritable(); await s.write('old'); await s.close();
      }
      const w = await SafetensorsWriter.create(directoryHandleTarget(dir), specs);
      await writeAll(w);
      await w.finish();
      return names(dir);
    `);
    expect(r).toEqual(['config.json', 'model.safetensors']);
  });

  it('a file target replaces its file on commit, and keeps it on abort', async () => {
    const r = await inPage<{ afterAbort: string; tensors: string[] }>(`
      const handle = await root.getFileHandle('merged.safetensors', { create: true });
      const s = await handle.createWritable(); await s.write('previous'); await s.close();
      const aborted = await SafetensorsWriter.create(fileHandleTarget(handle), specs);
      await writeAll(aborted);
      await aborted.abort();
      const afterAbort = await (await handle.getFile()).text();
      const w = await SafetensorsWriter.create(fileHandleTarget(handle), specs);
      await writeAll(w);
      await w.finish();
      const cp = await openCheckpoint(blobSource(await handle.getFile()));
      return { afterAbort, tensors: [...cp.tensors.keys()] };
    `);
    expect(r.afterAbort).toBe('previous');
    expect(r.tensors).toEqual(['a', 'b']);
  });
});

/**
 * The studio's GGUF export (runRecipe's gguf output, as the merge worker runs it, in a dedicated worker as
 * there) cancelled half-way, into each kind of place the studio writes to: the folder a person picked, the
 * file they picked (each holding an older file of that name), and a new browser-storage folder through sync
 * access handles. The cancel comes from the progress callback after a given tensor, so it lands mid-file
 * every time, whatever the machine.
 */
async function cancelledGgufExport(target: 'folder' | 'file' | 'opfs', cancelAfter: number): Promise<{ error: string; tensorsSeen: number; names: string[]; old: string | null }> {
  const worker = `
    const at = (path) => import(self.origin + path);
    const { tinyModel } = await at('/scripts/tinyModel.ts');
    const { bytesSource } = await at('/src/formats/memorySource.ts');
    const { openCheckpoint } = await at('/src/formats/checkpoint.ts');
    const { directoryHandleTarget, fileHandleTarget, opfsSyncFolderTarget } = await at('/src/formats/fsaTargets.ts');
    const { runRecipe } = await at('/src/merge/runRecipe.ts');
    const { createCpuSoupBackend } = await at('/src/merge/cpu/cpuBackend.ts');
    const { inThreadSpawner } = await at('/src/merge/cpu/protocol.ts');
    const root = await navigator.storage.getDirectory();
    for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
    const models = new Map();
    for (const [name, deltaSeed] of [['base', undefined], ['tuned', 9]]) {
      const { files } = await tinyModel({ architecture: 'llama', seed: 3, deltaSeed, numLayers: 4 });
      models.set(name, await openCheckpoint(new Map([...files].map(([f, b]) => [f, bytesSource(b, name + '/' + f)])), name));
    }
    const dir = await root.getDirectoryHandle('out', { create: true });
    if (${JSON.stringify(target)} !== 'opfs') {
      const old = await (await dir.getFileHandle('soup.gguf', { create: true })).createWritable();
      await old.write('previous'); await old.close();
    }
    const targets = { folder: () => directoryHandleTarget(dir), opfs: () => opfsSyncFolderTarget(dir), file: async () => fileHandleTarget(await dir.getFileHandle('soup.gguf')) };
    const controller = new AbortController();
    let tensorsSeen = 0;
    let error = 'none';
    try {
      await runRecipe({
        text: 'merge_method: linear\\nmodels:\\n  - model: base\\n    parameters:\\n      weight: 0.5\\n  - model: tuned\\n    parameters:\\n      weight: 0.5\\n',
        fileName: 'recipe.yaml',
        openModel: async (ref) => models.get(ref.path),
        backend: async () => createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner }),
        target: await targets[${JSON.stringify(target)}](),
        folder: false,
        gguf: { fileName: 'soup.gguf', name: 'soup', type: 'q8_0' },
        signal: controller.signal,
        onProgress: (p) => {
          tensorsSeen = p.tensorsDone;
          if (p.tensorsDone === ${cancelAfter}) controller.abort();
        },
      });
    } catch (e) {
      error = e.name + ': ' + e.message;
    }
    const names = [];
    for await (const k of dir.keys()) names.push(k);
    names.sort();
    const old = names.includes('soup.gguf') ? await (await (await dir.getFileHandle('soup.gguf')).getFile()).text() : null;
    self.postMessage({ error, tensorsSeen, names, old: old && old.slice(0, 8) });
  `;
  return page.evaluate(
    (code) =>
      new Promise((resolve, reject) => {
        const w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' });
        w.onmessage = (e) => {
          resolve(e.data);
          w.terminate();
        };
        w.onerror = (e) => reject(new Error(`the test worker failed: ${e.message}`));
      }),
    worker,
  ) as Promise<{ error: string; tensorsSeen: number; names: string[]; old: string | null }>;
}

describe.skipIf(!existsSync(chromiumPath))('a cancelled GGUF export in Chromium leaves nothing', () => {
  for (const target of ['folder', 'file', 'opfs'] as const) {
    it(`${target === 'opfs' ? 'a new browser-storage folder' : `a picked ${target}`}: cancelled after the header and some tensors, nothing new is left`, async () => {
      const r = await cancelledGgufExport(target, 5);
      expect(r.error).toMatch(/^CancelledError/);
      // Cancelled where asked: mid-file (the tiny llama has 40 GGUF tensors: rope_freqs, the embedding, 4 layers × 9, the norm, the output).
      expect(r.tensorsSeen).toBe(5);
      if (target === 'opfs') {
        expect(r.names).toEqual([]);
      } else {
        expect(r.names).toEqual(['soup.gguf']);
        expect(r.old).toBe('previous');
      }
    });
  }

  it('the same export, not cancelled, writes the whole GGUF in place of the older file', async () => {
    const r = await cancelledGgufExport('folder', -1);
    expect(r.error).toBe('none');
    expect(r.names).toEqual(['soup.gguf']);
    expect(r.old?.slice(0, 4)).toBe('GGUF');
    expect(r.tensorsSeen).toBe(40);
  });
});
