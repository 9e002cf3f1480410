/**
 * The GGUF writer's file structure, read back by node-llama-cpp's own GGUF parser (not ours), its Q8_0
 * rounding against ggml's definition, and all-or-nothing writing.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readGgufFileInfo } from 'node-llama-cpp';
import { writeGguf } from '../../src/model/gguf/writeGguf';
import { quantizeQ8_0 } from '../../src/model/gguf/quantize';
import { f16ToF32Bits, bitsToF32 } from '../../src/formats/floatCodecs';
import { CancelledError, InputError } from '../../src/errors';
import { nodeFileTarget } from '../../src/node/fileTargets';
import type { WeightSource } from '../../src/model/types';
import { exportGguf, openTinyModel, tempDir } from './helpers';

let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir?.remove();
});

function meta(info: Awaited<ReturnType<typeof readGgufFileInfo>>, key: string): unknown {
  let v: unknown = info.metadata;
  for (const part of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

describe('GGUF structure (read by node-llama-cpp)', () => {
  test('llama with Llama 3 rope scaling: hparams, tensor names and types, rope_freqs, tokenizer', async () => {
    const model = await openTinyModel({ architecture: 'llama', dtype: 'BF16' });
    const path = await exportGguf(model, dir.path, 'q8_0');
    const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
    expect(meta(info, 'general.architecture')).toBe('llama');
    expect(meta(info, 'llama.block_count')).toBe(2);
    expect(meta(info, 'llama.embedding_length')).toBe(64);
    expect(meta(info, 'llama.attention.head_count_kv')).toBe(2);
    expect(meta(info, 'llama.rope.freq_base')).toBe(500000);
    expect(meta(info, 'llama.rope.dimension_count')).toBe(16);
    expect(meta(info, 'general.file_type')).toBe(7);
    expect(meta(info, 'tokenizer.ggml.model')).toBe('gpt2');
    expect(meta(info, 'tokenizer.ggml.pre')).toBe('llama-bpe'); // a new vocabulary on Llama 3's split
    expect(meta(info, 'tokenizer.ggml.add_bos_token')).toBe(true);
    expect(meta(info, 'tokenizer.ggml.bos_token_id')).toBe(model.tokenizer?.bosTokenId);
    expect(meta(info, 'tokenizer.chat_template')).toContain('<|start_header_id|>');
    const tensors = new Map((info.fullTensorInfo ?? []).map((t) => [t.name, t]));
    // 1-D and norm tensors F32 (0), matrices Q8_0 (8); dimensions innermost first.
    expect(tensors.get('rope_freqs.weight')?.ggmlType).toBe(0);
    expect(tensors.get('blk.0.attn_norm.weight')?.ggmlType).toBe(0);
    expect(tensors.get('blk.1.ffn_down.weight')?.ggmlType).toBe(8);
    expect(tensors.get('blk.1.ffn_down.weight')?.dimensions.map(Number)).toEqual([128, 64]);
    expect(tensors.get('token_embd.weight')?.ggmlType).toBe(8);
    expect(tensors.has('output.weight')).toBe(true);
    expect(tensors.size).toBe(1 + 1 + 2 * 9 + 1 + 1);
  });

  test('qwen3: head_dim as key/value length, q/k norms F32, tied output absent; Q8_0 rows of 48 fall back to F16', async () => {
    const model = await openTinyModel({ architecture: 'qwen3', hiddenSize: 48, numHeads: 4, numKvHeads: 1, headDim: 32, intermediateSize: 64 });
    const path = await exportGguf(model, dir.path, 'q8_0');
    const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
    expect(meta(info, 'general.architecture')).toBe('qwen3');
    expect(meta(info, 'qwen3.attention.key_length')).toBe(32);
    expect(meta(info, 'tokenizer.ggml.pre')).toBe('qwen2');
    expect(meta(info, 'tokenizer.ggml.add_bos_token')).toBe(false);
    const tensors = new Map((info.fullTensorInfo ?? []).map((t) => [t.name, t]));
    expect(tensors.has('output.weight')).toBe(false);
    expect(tensors.get('blk.0.attn_q_norm.weight')?.ggmlType).toBe(0);
    expect(tensors.get('blk.0.attn_q.weight')?.ggmlType).toBe(1); // rows of 48 values
    expect(tensors.get('blk.0.attn_output.weight')?.ggmlType).toBe(8); // rows of 4 × 32 = 128
    expect(tensors.get('blk.0.ffn_down.weight')?.ggmlType).toBe(8); // rows of 64
  });
});

describe('Q8_0', () => {
  const dequant = (bytes: Uint8Array, block: number) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const d = bitsToF32(f16ToF32Bits(view.getUint16(block * 34, true)));
    return Array.from({ length: 32 }, (_, i) => view.getInt8(block * 34 + 2 + i) * d);
  };

  test('scale max|x|/127, rounding half away from zero', () => {
    const x = new Float32Array(32);
    x.set([127, 2.5, -2.5, 0.5, -0.5, 126.5, 0.49, -127]);
    const q = quantizeQ8_0(x);
    expect(dequant(q, 0).slice(0, 8)).toEqual([127, 3, -3, 1, -1, 127, 0, -127]);
  });

  test('an all-zero block has scale 0; values round-trip within half a step', () => {
    const x = new Float32Array(64);
    for (let i = 32; i < 64; i++) x[i] = Math.sin(i) * 0.03;
    const q = quantizeQ8_0(x);
    expect(dequant(q, 0).every((v) => v === 0)).toBe(true);
    const step = 0.03 / 127;
    dequant(q, 1).forEach((v, i) => expect(Math.abs(v - x[32 + i])).toBeLessThanOrEqual(step * 0.5 + 1e-6));
  });
});

describe('streaming in pieces', () => {
  // Pieces of whole rows (whole heads where llama's Q/K rows are permuted), joined from source chunks of
  // any size: the same bytes as writing each tensor whole, whatever the piece and chunk sizes.
  const wholeAndPieces = async (model: Awaited<ReturnType<typeof openTinyModel>>, type: 'q8_0' | 'f16', pieceValues: number, chunk: number) => {
    const whole: WeightSource = { ...model.weights, streamF32: undefined };
    const odd: WeightSource = {
      ...model.weights,
      async *streamF32(name, signal) {
        const values = await model.weights.readF32(name, signal);
        for (let at = 0; at < values.length; at += chunk) yield values.slice(at, at + chunk);
      },
    };
    const paths = [join(dir.path, `whole-${type}.gguf`), join(dir.path, `pieces-${type}.gguf`)];
    await writeGguf({ ...model, tokenizerJson: model.tokenizerJson!, weights: whole }, nodeFileTarget(paths[0]), { type });
    await writeGguf({ ...model, tokenizerJson: model.tokenizerJson!, weights: odd }, nodeFileTarget(paths[1]), { type, pieceValues });
    return paths.map((p) => readFileSync(p));
  };

  test('llama (Q/K permuted per head) and qwen2 (biases): pieces and odd chunks give the bytes of whole tensors', async () => {
    for (const options of [{ architecture: 'llama' as const }, { architecture: 'qwen2' as const }]) {
      const model = await openTinyModel(options);
      for (const [type, pieceValues, chunk] of [['q8_0', 64 * 16 + 5, 37], ['f16', 1, 1000]] as const) {
        const [whole, pieces] = await wholeAndPieces(model, type, pieceValues, chunk);
        expect(pieces.length).toBe(whole.length);
        expect(pieces.equals(whole)).toBe(true);
      }
    }
  });
});

describe('all or nothing', () => {
  test('a read failing in the middle of a tensor leaves no file and an existing file untouched', async () => {
    const model = await openTinyModel({ architecture: 'qwen2' });
    const path = join(dir.path, 'existing.gguf');
    writeFileSync(path, 'previous content');
    let reads = 0;
    const failing: WeightSource = {
      ...model.weights,
      async *streamF32(name, signal) {
        const values = await model.weights.readF32(name, signal);
        yield values.subarray(0, values.length >> 1);
        if (++reads === 5) throw new InputError(`${name}: read failed (disk gone)`);
        yield values.subarray(values.length >> 1);
      },
    };
    await expect(writeGguf({ ...model, tokenizerJson: model.tokenizerJson!, weights: failing }, nodeFileTarget(path), { type: 'f16', pieceValues: 256 })).rejects.toThrow(/disk gone/);
    expect(readFileSync(path, 'utf8')).toBe('previous content');
    expect(readdirSync(dir.path).filter((f) => f.includes('partial'))).toEqual([]);
  });

  test('cancel leaves nothing', async () => {
    const model = await openTinyModel({ architecture: 'mistral' });
    const path = join(dir.path, 'cancelled.gguf');
    const controller = new AbortController();
    const run = writeGguf({ ...model, tokenizerJson: model.tokenizerJson! }, nodeFileTarget(path), {
      type: 'bf16',
      signal: controller.signal,
      onProgress: (p) => {
        if (p.tensorsDone === 3) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir.path).filter((f) => f.includes('partial'))).toEqual([]);
  });

  test('a tokenizer llama.cpp cannot read is refused before anything is written', async () => {
    const model = await openTinyModel({ architecture: 'llama' });
    const path = join(dir.path, 'refused.gguf');
    // A WordPiece vocabulary (BERT's), and byte fallback without SentencePiece's decoder: llama.cpp's converter knows neither.
    const wordPiece = { ...model.tokenizerJson!, model: { ...(model.tokenizerJson!.model as object), type: 'WordPiece' } };
    await expect(writeGguf({ ...model, tokenizerJson: wordPiece }, nodeFileTarget(path), { type: 'f32' })).rejects.toThrow(/this one is WordPiece/);
    const oddFallback = { ...model.tokenizerJson!, model: { ...(model.tokenizerJson!.model as object), byte_fallback: true } };
    await expect(writeGguf({ ...model, tokenizerJson: oddFallback }, nodeFileTarget(path), { type: 'f32' })).rejects.toThrow(/not SentencePiece's decoder/);
    expect(existsSync(path)).toBe(false);
  });
});
