/**
 * `npm run bench -- io`: writes a generated checkpoint of ≥ 2 GB (sharded, through the streaming
 * writer and the Node folder target) into os.tmpdir(), re-reads every tensor in bounded chunks,
 * verifies a checksum, and prints MB/s and the process's peak RSS. Target: peak RSS < 300 MB whatever
 * the size. SOUPLAB_BENCH_IO_GB sets the size (default 2.2).
 */
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byteLengthOf, numelOf } from '../src/formats/dtype';
import { SafetensorsWriter, type OutputTensorSpec } from '../src/formats/writer';
import { readTensorChunks } from '../src/formats/tensorChunks';
import { nodeFolderTarget } from '../src/node/fileTargets';
import { openCheckpointPath } from '../src/node/openCheckpointPath';
import type { Benchmark } from './registry';
import { PeakRss } from './peakRss';

const CHUNK = 8 << 20;
const RSS_TARGET_MB = 300;

/** Sum of the u32 words, to check the bytes read are the bytes written. */
function checksum(bytes: Uint8Array, seed: number): number {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  let s = seed;
  for (let i = 0; i < words.length; i++) s = (s + words[i]) >>> 0;
  return s;
}

/** The bytes of chunk k: a fixed random block with the chunk number stamped in its first word. */
function chunkData(block: Uint8Array, k: number, length: number): Uint8Array {
  new DataView(block.buffer).setUint32(0, k, true);
  return block.subarray(0, length);
}


const mb = (bytes: number) => bytes / 1e6;

export const ioBenchmark: Benchmark = {
  name: 'io',
  description: 'stream-write and re-read a ≥ 2 GB sharded checkpoint; MB/s and peak RSS (target < 300 MB)',
  async run() {
    const gigabytes = Number(process.env.SOUPLAB_BENCH_IO_GB ?? '2.2');
    const total = Math.max(2e9, gigabytes * 1e9);
    // A transformer-like layout: 128 MiB BF16 matrices, a few small F32 vectors, an I64 scalar.
    const matrixBytes = 8192 * 8192 * 2;
    const specs: OutputTensorSpec[] = [];
    for (let i = 0; i * matrixBytes < total; i++) {
      specs.push({ name: `model.layers.${i}.mlp.up_proj.weight`, dtype: 'BF16', shape: [8192, 8192] });
      specs.push({ name: `model.layers.${i}.input_layernorm.weight`, dtype: 'F32', shape: [8192] });
    }
    specs.push({ name: 'num_batches_tracked', dtype: 'I64', shape: [] });

    const root = await mkdtemp(join(tmpdir(), 'souplab-bench-io-'));
    const free = await statfs(root).then((s) => s.bavail * s.bsize).catch(() => Infinity);
    if (free < total * 1.1) {
      console.log(`  not enough space in ${tmpdir()}: ${mb(free).toFixed(0)} MB free, need ${mb(total * 1.1).toFixed(0)} MB`);
      await rm(root, { recursive: true, force: true });
      return false;
    }
    const rss = new PeakRss();
    const block = new Uint8Array(CHUNK);
    let x = 0x12345678;
    const words = new Uint32Array(block.buffer);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    try {
      const dir = join(root, 'checkpoint');
      let sumWritten = 0;
      const t0 = performance.now();
      const writer = await SafetensorsWriter.create(nodeFolderTarget(dir), specs, { maxShardBytes: 1e9, metadata: { format: 'pt' } });
      let k = 0;
      for (const spec of specs) {
        const length = byteLengthOf(spec.dtype, numelOf(spec.shape)) as number;
        for (let o = 0; o < length; o += CHUNK) {
          const data = chunkData(block, k++, Math.min(CHUNK, length - o));
          sumWritten = checksum(data, sumWritten);
          await writer.append(spec.name, data);
        }
      }
      await writer.finish();
      const writeSeconds = (performance.now() - t0) / 1000;
      const bytes = writer.bytesWritten;

      const t1 = performance.now();
      const checkpoint = await openCheckpointPath(dir);
      let sumRead = 0;
      let readBytes = 0;
      try {
        for (const t of checkpoint.tensors.values()) {
          for await (const chunk of readTensorChunks(t, { chunkBytes: CHUNK })) {
            sumRead = checksum(chunk, sumRead);
            readBytes += chunk.length;
          }
        }
      } finally {
        await checkpoint.close();
      }
      const readSeconds = (performance.now() - t1) / 1000;
      // maxRSS (KB) also catches peaks between samples.
      const peak = Math.max(rss.stop(), process.resourceUsage().maxRSS * 1024);

      const ok = sumRead === sumWritten && readBytes === writer.totalTensorBytes;
      console.log(`  checkpoint   ${mb(bytes).toFixed(0)} MB in ${writer.files.length - 1} shards + index, ${specs.length} tensors (${tmpdir()})`);
      console.log(`  write        ${(mb(bytes) / writeSeconds).toFixed(0)} MB/s  (${writeSeconds.toFixed(1)} s, fsync included)`);
      console.log(`  re-read      ${(mb(readBytes) / readSeconds).toFixed(0)} MB/s  (${readSeconds.toFixed(1)} s, ${CHUNK >> 20} MiB chunks, checksum ${ok ? 'matches' : 'MISMATCH'}; the file is likely still in the page cache)`);
      console.log(`  peak RSS     ${mb(peak).toFixed(0)} MB  (target < ${RSS_TARGET_MB} MB: ${mb(peak) < RSS_TARGET_MB ? 'met' : 'MISSED'})`);
      return ok && mb(peak) < RSS_TARGET_MB;
    } finally {
      rss.stop();
      await rm(root, { recursive: true, force: true });
    }
  },
};
