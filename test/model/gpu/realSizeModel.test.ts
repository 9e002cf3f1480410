// A Qwen2-0.5B-shaped model (hidden 896, 24 layers, 14/2 heads of 64, intermediate 4864, vocabulary
// 151,936, tied embeddings, BF16: 494 M parameters, 988 MB) end to end on WebGPU (Dawn + SwiftShader):
// generated seeded weights (scripts/generatedWeights.ts: made on demand, uploaded as BF16 bytes, never
// decoded to f32 for the GPU), two multiple-choice continuations of a shared context scored in one
// batch, compared with the CPU f32 reference on the same tokens. A few tokens only: software WebGPU and
// a 2-core CI machine make it minutes even so (generating 494 M values twice, two 0.5 B forwards).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedWeightSource } from '../../../scripts/generatedWeights';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import { WebGpuCausalLM } from '../../../src/model/gpu/webgpuCausalLM';
import { CpuCausalLM } from '../../../src/model/cpu/cpuCausalLM';
import { REFERENCE_SHAPES } from '../../../src/model/referenceShapes';
import type { WeightSource } from '../../../src/model/types';
import { nodeGPU } from '../../../src/node/webgpu';

let ctx: SoupDevice;
beforeAll(async () => {
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'real-size model test');
});
afterAll(() => ctx?.destroy());

/** Counts what the GPU upload asks of the source: bytes streamed, and f32 decodes (there must be none). */
function counting(source: WeightSource): { source: WeightSource; f32Reads: string[]; bytesStreamed: () => number } {
  const f32Reads: string[] = [];
  let bytes = 0;
  return {
    f32Reads,
    bytesStreamed: () => bytes,
    source: {
      ...source,
      readF32: (name, signal) => {
        f32Reads.push(name);
        return source.readF32(name, signal);
      },
      async *streamBytes(name, signal) {
        for await (const piece of source.streamBytes!(name, signal)) {
          bytes += piece.length;
          yield piece;
        }
      },
    },
  };
}

describe('a 0.5 B Qwen2-shaped model on WebGPU', () => {
  it('loads as BF16 (no f32 copy), scores two choices after a shared context like the CPU reference', async () => {
    const config = REFERENCE_SHAPES['qwen2-0.5b'];
    const weights = generatedWeightSource(config, 1905);
    const seen = counting(weights);
    // A one-token context and two one-token choices: 4 tokens in one batch, so every weight is read once
    // (on SwiftShader a 0.5 B forward costs about a minute whatever the batch's first few rows).
    const context = [151_000];
    const choices = [Int32Array.from([...context, 150_000]), Int32Array.from([...context, 77_777])];
    const gpu = await WebGpuCausalLM.create(config, seen.source, { device: ctx, batchTokens: 4, name: 'Qwen2-0.5B-shaped' });
    let got: Float32Array[];
    try {
      expect(seen.f32Reads).toEqual([]);
      expect(seen.bytesStreamed()).toBe(2 * 494_032_768);
      expect(gpu.fit.weightBytes).toBe(2 * 494_032_768);
      expect(gpu.weightParts('model.embed_tokens.weight').dtype).toBe('BF16');
      got = await gpu.scoreTokens(choices);
    } finally {
      gpu.dispose();
    }
    const cpu = await CpuCausalLM.load(config, weights);
    let want: Float32Array[];
    try {
      want = await cpu.scoreTokens(choices);
    } finally {
      cpu.dispose();
    }
    let worst = 0;
    want.forEach((w, i) => {
      expect(got[i].length).toBe(w.length);
      w.forEach((v, t) => {
        expect(Number.isFinite(got[i][t])).toBe(true);
        worst = Math.max(worst, Math.abs(got[i][t] - v));
      });
    });
    console.log(`0.5 B Qwen2 shape: max |Δ log-prob| GPU vs CPU = ${worst.toExponential(2)}; log-probs ${want.map((w) => Array.from(w, (v) => v.toFixed(3)).join(' ')).join(' | ')}`);
    // Random weights still give log-probs that differ from uniform (−log 151936 = −11.93): the test can tell models apart.
    expect(want.flatMap((w) => Array.from(w)).some((v) => Math.abs(v + Math.log(151_936)) > 0.5)).toBe(true);
    expect(worst).toBeLessThan(1e-3);
  }, 1_200_000);
});
