/**
 * Part of `npm run bench -- model` (issue 19 §1): WebGPU prefill of real-shaped models — Qwen2-0.5B and
 * Qwen2-1.5B shapes (src/model/referenceShapes.ts: vocabulary 151,936, tied embeddings, GQA), generated
 * seeded BF16 weights (scripts/generatedWeights.ts) — in batches of 512 tokens, as the evaluator scores
 * (every position's log-prob of the next token: the LM head and log-softmax included). Prints tokens/s,
 * the achieved TFLOP/s and their fraction of the device's peak: the f16 peak when the f16 matmul ran,
 * else the f32 one, from the table below keyed by adapter name (vector units: WebGPU reaches no tensor
 * cores), or SOUPLAB_GPU_PEAK_TFLOPS; "unknown" otherwise.
 *
 * On a software adapter (SwiftShader) it is skipped unless SOUPLAB_BENCH_PREFILL=1 (minutes per batch).
 * SOUPLAB_BENCH_PREFILL_BATCHES (3) batches of 512 tokens are timed after one warm-up batch;
 * SOUPLAB_BENCH_PREFILL_SHAPES (qwen2-0.5b,qwen2-1.5b) picks the shapes.
 */
import { generatedWeightSource } from '../scripts/generatedWeights';
import { describeAdapter } from '../src/gpu/adapter';
import { describeFit, WebGpuCausalLM } from '../src/model/gpu/webgpuCausalLM';
import { REFERENCE_SHAPES, type ReferenceShapeName } from '../src/model/referenceShapes';
import type { ModelConfig } from '../src/model/types';
import { modelTensors } from '../src/model/weights';

/** Peak dense TFLOP/s of the vector units (not tensor cores), f32 and f16, from the vendors' data sheets. */
export const PEAK_TFLOPS: { pattern: RegExp; f32: number; f16: number }[] = [
  { pattern: /H200/i, f32: 67, f16: 133.8 },
  { pattern: /H100.*PCIe/i, f32: 51, f16: 102.4 },
  { pattern: /H100/i, f32: 67, f16: 133.8 },
  { pattern: /A100/i, f32: 19.5, f16: 78 },
];

const BATCH = 512;

/** Matmul FLOPs of scoring a sequence of `n` tokens: 2 per weight per token (the tied LM head too), plus attention. */
export function scoringFlops(c: ModelConfig, n: number): number {
  const linear = modelTensors(c).filter((t) => t.shape.length === 2 && t.name !== 'model.embed_tokens.weight').reduce((s, t) => s + t.shape[0] * t.shape[1], 0);
  const head = c.tieWordEmbeddings ? c.vocabSize * c.hiddenSize : 0;
  const attention = c.numLayers * 2 * 2 * c.numHeads * c.headDim * ((n * (n + 1)) / 2);
  return 2 * (linear + head) * n + attention;
}

function batchOfTokens(vocab: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: BATCH }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

export async function prefillBenchmark(adapter: GPUAdapter | undefined): Promise<void> {
  if (!adapter) {
    console.log('prefill not measured: no WebGPU adapter');
    return;
  }
  const { name, software } = describeAdapter(adapter);
  if (software && process.env.SOUPLAB_BENCH_PREFILL !== '1') {
    console.log(`prefill ${name} is a software adapter: the 0.5 B / 1.5 B prefill is skipped (SOUPLAB_BENCH_PREFILL=1 runs it anyway; minutes per batch)`);
    return;
  }
  const shapes = (process.env.SOUPLAB_BENCH_PREFILL_SHAPES ?? 'qwen2-0.5b,qwen2-1.5b').split(',') as ReferenceShapeName[];
  const batches = Number(process.env.SOUPLAB_BENCH_PREFILL_BATCHES ?? 3);
  for (const shape of shapes) {
    const config = REFERENCE_SHAPES[shape];
    if (!config) throw new Error(`SOUPLAB_BENCH_PREFILL_SHAPES: no shape ${shape}; have ${Object.keys(REFERENCE_SHAPES).join(', ')}`);
    const params = modelTensors(config).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    const t0 = performance.now();
    const model = await WebGpuCausalLM.create(config, generatedWeightSource(config, 19), { adapter, batchTokens: BATCH, name: shape });
    try {
      const loadSeconds = (performance.now() - t0) / 1000;
      console.log(`prefill ${shape}: ${(params / 1e6).toFixed(0)} M parameters, BF16, loaded in ${loadSeconds.toFixed(1)} s on ${model.description}; ${describeFit(model.fit)}`);
      await model.scoreTokens([batchOfTokens(config.vocabSize, 1)]); // warm-up: pipelines, workspace
      const seqs = Array.from({ length: batches }, (_, i) => batchOfTokens(config.vocabSize, 2 + i));
      const t1 = performance.now();
      // One sequence of 512 tokens per batch: each scoreTokens batch is one submit and one readback.
      await model.scoreTokens(seqs);
      const seconds = (performance.now() - t1) / 1000;
      const tokensPerSecond = (batches * BATCH) / seconds;
      const tflops = (batches * scoringFlops(config, BATCH)) / seconds / 1e12;
      const dtype = model.kernelFeatures.f16 ? 'f16' : 'f32';
      const known = PEAK_TFLOPS.find((g) => g.pattern.test(name));
      const peak = Number(process.env.SOUPLAB_GPU_PEAK_TFLOPS ?? (known ? known[dtype] : NaN));
      console.log(
        `prefill ${shape}: ${tokensPerSecond.toFixed(0)} tokens/s in batches of ${BATCH} (${batches} timed, ${seconds.toFixed(2)} s), ${tflops.toFixed(2)} TFLOP/s with ${dtype} matmuls` +
          (Number.isFinite(peak) ? ` = ${((100 * tflops) / peak).toFixed(1)} % of ${name}'s ${peak} TFLOP/s ${dtype} peak` : ` — fraction of peak unknown: ${name} is not in the table (set SOUPLAB_GPU_PEAK_TFLOPS)`) +
          (software ? ' — a software adapter: says nothing about a GPU' : ''),
      );
    } finally {
      model.dispose();
    }
  }
}
