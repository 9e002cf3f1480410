/**
 * `npm run bench -- model`: issue 9 §6. Scoring speed of the model runtime on a generated Llama of
 * ≥ 100 M parameters (scripts/tinyModel.ts at larger dims, BF16 weights, a 32 k vocabulary), in one run:
 *
 * - the fast CPU backend (FastCpuCausalLM), the f32 reference (CpuCausalLM, with
 *   SOUPLAB_BENCH_BACKENDS=cpu,cpu-reference) and the WebGPU backend (WebGpuCausalLM) scoring the same sequences
 *   (log-prob of every next token): tokens/s and peak RSS of each, and their largest log-prob difference;
 * - llama.cpp (node-llama-cpp, CPU, F32 KV cache) scoring the same tokens of the same model exported as
 *   BF16 GGUF by SoupLab's writer, the way an evaluator reads log-probs from it (controlledEvaluate with
 *   the next-token probabilities at every position), and its forward alone (evaluateWithoutGenerating-
 *   NewTokens): tokens/s, and each backend's speed as a ratio of both;
 * - on a hardware GPU: the achieved FLOP/s and weight-read bandwidth, and their share of the GPU's peak
 *   when it is known (SOUPLAB_GPU_PEAK_TFLOPS / SOUPLAB_GPU_PEAK_GBPS, or the table below for a few
 *   data-centre GPUs; the kernels compute in f32, so the f32 peak is the one that applies).
 *
 * Sizes: SOUPLAB_BENCH_MODEL_LAYERS (12), _HIDDEN (768), _INTERMEDIATE (2048), _VOCAB (32000),
 * SOUPLAB_BENCH_MODEL_SEQS × SOUPLAB_BENCH_MODEL_SEQ_LEN tokens (4 × 128; with a software adapter 1 × 32
 * unless the variables are set). A software adapter (SwiftShader) is skipped on this model unless
 * SOUPLAB_BENCH_MODEL_SOFTWARE=1: it is for correctness, and takes tens of minutes here.
 * SOUPLAB_BENCH_MODEL_SHAPE=qwen2-0.5b: Qwen2-0.5B's shape instead (24 layers unless _LAYERS says).
 * The fast CPU backend and llama.cpp run on the same number of threads, SOUPLAB_BENCH_THREADS (default:
 * the cores this process may use); issue 19's goal for the CPU is a ratio ≥ 0.5. Then SOUPLAB_BENCH_MODEL_ROUNDS
 * (3) rounds in all of the fast CPU backend and llama.cpp's forward alone, alternating, with the ratio of the
 * bests and of the medians (on a shared machine, one measurement of each side says little). Before the model,
 * the matmul kernel alone (bench/cpuKernel.ts). Reported, no targets.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../src/formats/checkpoint';
import { writeGguf } from '../src/model/gguf/writeGguf';
import { bytesSource } from '../src/formats/memorySource';
import { describeAdapter, requestAdapter } from '../src/gpu/adapter';
import { describeFit, WebGpuCausalLM } from '../src/model/gpu/webgpuCausalLM';
import { CpuCausalLM } from '../src/model/cpu/cpuCausalLM';
import { FastCpuCausalLM } from '../src/model/cpu/fastCpuCausalLM';
import { openModel, type OpenedModel } from '../src/model/load';
import type { CausalLM } from '../src/model/types';
import { modelTensors } from '../src/model/weights';
import { nodeFileTarget } from '../src/node/fileTargets';
import { nodeKernelThreads } from '../src/node/kernelThreads';
import { nodeGPU } from '../src/node/webgpu';
import { qwen2HalfB } from '../scripts/realShapes';
import { tinyModel } from '../scripts/tinyModel';
import { cpuKernelBenchmark } from './cpuKernel';
import { generatedLlama } from './generatedLlama';
import { prefillBenchmark, scoringFlops } from './modelPrefill';
import { hasHardwareVulkanDriver, SWIFTSHADER_ICD } from './kernels';
import { PeakRss } from './peakRss';
import type { Benchmark } from './registry';

/**
 * SOUPLAB_BENCH_BACKENDS=cpu,webgpu (the default) limits the backends a benchmark measures; cpu-reference
 * adds the one-threaded f32 reference (minutes on long sequences).
 */
export const wantBackend = (kind: 'cpu' | 'cpu-reference' | 'webgpu'): boolean => (process.env.SOUPLAB_BENCH_BACKENDS ?? 'cpu,webgpu').split(',').includes(kind);

/** Threads of the fast CPU backend and of llama.cpp alike (SOUPLAB_BENCH_THREADS; default: the cores this process may use). */
const benchThreads = (): number => Number(process.env.SOUPLAB_BENCH_THREADS ?? availableParallelism());

const env = (name: string, fallback: number): number => Number(process.env[`SOUPLAB_BENCH_MODEL_${name}`] ?? fallback);

/** Peak dense f32 FLOP/s (TFLOPS) and memory bandwidth (GB/s) of GPUs we may meet, by adapter name. */
const KNOWN_GPUS: { pattern: RegExp; tflopsF32: number; gbps: number }[] = [
  { pattern: /H200/i, tflopsF32: 67, gbps: 4800 },
  { pattern: /H100.*PCIe/i, tflopsF32: 51, gbps: 2000 },
  { pattern: /H100/i, tflopsF32: 67, gbps: 3350 },
  { pattern: /A100/i, tflopsF32: 19.5, gbps: 2039 },
  { pattern: /L4\b/i, tflopsF32: 30, gbps: 300 },
  { pattern: /RTX 4090/i, tflopsF32: 82.6, gbps: 1008 },
];

/** Deterministic token sequences over the whole vocabulary. */
function sequences(count: number, length: number, vocab: number): Int32Array[] {
  let s = 12345;
  return Array.from({ length: count }, () =>
    Int32Array.from({ length }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % vocab;
    }),
  );
}

interface Measured {
  seconds: number;
  tokensPerSecond: number;
  peakRssMb: number;
  logProbs: Float32Array[];
}

async function measure(model: CausalLM, seqs: Int32Array[]): Promise<Measured> {
  await model.scoreTokens([seqs[0].subarray(0, 8)]); // warm-up: first use of every kernel
  (globalThis as { gc?: () => void }).gc?.();
  const rss = new PeakRss();
  const t0 = performance.now();
  const logProbs = await model.scoreTokens(seqs);
  const seconds = (performance.now() - t0) / 1000;
  const tokens = seqs.reduce((s, q) => s + q.length, 0);
  return { seconds, tokensPerSecond: tokens / seconds, peakRssMb: rss.stop() / 1e6, logProbs };
}

function maxDiff(a: Float32Array[], b: Float32Array[] | number[][]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, t) => (m = Math.max(m, Math.abs(v - b[i][t])))));
  return m;
}

/** llama.cpp scoring the same sequences from a GGUF of the model: tokens/s and its log-probs. */
const llamaThreads = (): number => Number(process.env.SOUPLAB_BENCH_LLAMA_THREADS ?? benchThreads());

/** Rounds of llama.cpp's forward alone alternating with `again` (the fast CPU backend scoring the same sequences): SOUPLAB_BENCH_MODEL_ROUNDS, default 3 in all. */
const rounds = (): number => env('ROUNDS', 3);

async function measureLlamaCpp(
  model: OpenedModel,
  seqs: Int32Array[],
  again: (() => Promise<number>) | null,
): Promise<{ tokensPerSecond: number; forwardTokensPerSecond: number; allLogitsTokensPerSecond: number; peakRssMb: number; logProbs: number[][]; fileMb: number; rounds: { ours: number; forward: number; allLogits: number }[] } | string> {
  let llamaCpp: typeof import('node-llama-cpp');
  try {
    llamaCpp = await import('node-llama-cpp');
  } catch (e) {
    return `node-llama-cpp could not load: ${(e as Error).message}`;
  }
  if (!model.tokenizerJson) return 'the generated model has no tokenizer.json';
  const dir = await mkdtemp(join(tmpdir(), 'souplab-bench-model-'));
  const llama = await llamaCpp.getLlama({ gpu: false, build: 'never', logLevel: llamaCpp.LlamaLogLevel.error });
  try {
    const path = join(dir, 'bench-model-bf16.gguf');
    const written = await writeGguf({ ...model, tokenizerJson: model.tokenizerJson }, nodeFileTarget(path), { type: 'bf16' });
    const loaded = await llama.loadModel({ modelPath: path });
    const longest = Math.max(...seqs.map((s) => s.length));
    const context = await loaded.createContext({
      contextSize: Math.max(256, longest),
      batchSize: longest,
      sequences: 1,
      // As many threads as the fast CPU backend uses (SOUPLAB_BENCH_LLAMA_THREADS to change).
      threads: llamaThreads(),
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
    });
    try {
      const sequence = context.getSequence();
      // In steps of 64 positions: each position's probabilities are a Map over the whole vocabulary (at
      // Qwen2's 151,936 words, 1,024 positions of them at once overflow the JavaScript heap).
      const score = async (ids: Int32Array): Promise<number[]> => {
        await sequence.clearHistory();
        const tokens = Array.from(ids) as import('node-llama-cpp').Token[];
        const logProbs: number[] = [];
        for (let from = 0; from < tokens.length; from += 64) {
          const step = tokens.slice(from, from + 64);
          const out = await sequence.controlledEvaluate(step.map((id, i): import('node-llama-cpp').ControlledEvaluateInputItem => (from + i + 1 < tokens.length ? [id, { generateNext: { probabilities: true } }] : id)));
          for (let i = 0; i < step.length && from + i + 1 < tokens.length; i++) logProbs.push(Math.log(out[i]?.next?.probabilities?.get(tokens[from + i + 1]) ?? 0));
        }
        return logProbs;
      };
      await score(seqs[0].subarray(0, 8));
      const rss = new PeakRss();
      const t0 = performance.now();
      const logProbs: number[][] = [];
      for (const s of seqs) logProbs.push(await score(s));
      const seconds = (performance.now() - t0) / 1000;
      const peakRssMb = rss.stop() / 1e6;
      const tokens = seqs.reduce((n, q) => n + q.length, 0);
      // llama.cpp's forward alone (prompt processing, no probabilities handed to JavaScript).
      const forward = async (): Promise<number> => {
        const t1 = performance.now();
        for (const s of seqs) {
          await sequence.clearHistory();
          await sequence.evaluateWithoutGeneratingNewTokens(Array.from(s) as import('node-llama-cpp').Token[]);
        }
        return tokens / ((performance.now() - t1) / 1000);
      };
      // llama.cpp's forward with the logits of every position, as scoring needs them (the forward alone
      // computes the output layer for the last position only: on a 32 k vocabulary that is a fifth of the
      // work per token). Each position's logits are reduced to a greedy token in C++: nothing but one token
      // per position reaches JavaScript.
      const allLogits = async (): Promise<number> => {
        const t1 = performance.now();
        for (const s of seqs) {
          await sequence.clearHistory();
          const ids = Array.from(s) as import('node-llama-cpp').Token[];
          await sequence.controlledEvaluate(ids.map((id, t): import('node-llama-cpp').ControlledEvaluateInputItem => (t + 1 < ids.length ? [id, { generateNext: { token: true, options: { temperature: 0 } } }] : id)));
        }
        return tokens / ((performance.now() - t1) / 1000);
      };
      const forwardTokensPerSecond = await forward();
      const allLogitsTokensPerSecond = await allLogits();
      // On a shared machine one measurement of each side says little: more rounds, alternating.
      const more: { ours: number; forward: number; allLogits: number }[] = [];
      if (again) for (let r = 1; r < rounds(); r++) more.push({ ours: await again(), forward: await forward(), allLogits: await allLogits() });
      return { tokensPerSecond: tokens / seconds, forwardTokensPerSecond, allLogitsTokensPerSecond, peakRssMb, logProbs, fileMb: written.bytes / 1e6, rounds: more };
    } finally {
      await context.dispose();
      await loaded.dispose();
    }
  } finally {
    await llama.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

export const modelBenchmark: Benchmark = {
  name: 'model',
  description: 'model runtime: tokens scored per second and peak memory on a generated ≥ 100 M-parameter Llama (BF16), CPU and WebGPU backends, and llama.cpp (CPU) on the same model as GGUF',
  async run() {
    if (process.env.SOUPLAB_BENCH_MODEL_PREFILL_ONLY === '1') {
      await prefillBenchmark(await requestAdapter(await nodeGPU()));
      return true;
    }
    const qwen05 = process.env.SOUPLAB_BENCH_MODEL_SHAPE === 'qwen2-0.5b';
    const layers = env('LAYERS', qwen05 ? 24 : 12);
    const hidden = env('HIDDEN', qwen05 ? 896 : 768);
    // The vocabulary padded to a realistic size; a context long enough for SOUPLAB_BENCH_MODEL_SEQ_LEN.
    const context = Math.max(512, env('SEQ_LEN', 0));
    const { files } = qwen05
      ? await tinyModel(qwen2HalfB({ numLayers: layers, maxPositionEmbeddings: context }))
      : await generatedLlama({ hidden, layers, intermediate: env('INTERMEDIATE', 2048), kvHeads: Math.max(1, hidden / 256), vocab: env('VOCAB', 32000), context }, { seed: 1 });
    const model = await openModel(await openCheckpoint(new Map([...files].map(([k, v]) => [k, bytesSource(v, k)])), 'bench-llama'));
    const c = model.config;
    const params = modelTensors(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    console.log(`model   ${c.architecture}, ${layers} layers, hidden ${c.hiddenSize}, intermediate ${c.intermediateSize}, ${c.numHeads} heads / ${c.numKvHeads} kv heads, vocab ${c.vocabSize}: ${(params / 1e6).toFixed(1)} M parameters, BF16 (${((params * 2) / 1e6).toFixed(0)} MB)`);

    // GPU first decides the sequence sizes (a software adapter gets few tokens).
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !hasHardwareVulkanDriver()) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    let adapter: GPUAdapter | undefined;
    try {
      adapter = await requestAdapter(await nodeGPU());
    } catch (e) {
      console.log(`webgpu  not available: ${(e as Error).message}`);
    }
    const software = adapter ? describeAdapter(adapter).software : true;
    const sized = process.env.SOUPLAB_BENCH_MODEL_SEQS !== undefined || process.env.SOUPLAB_BENCH_MODEL_SEQ_LEN !== undefined;
    const seqs = sequences(env('SEQS', sized || !software ? 4 : 1), env('SEQ_LEN', sized || !software ? 128 : 32), c.vocabSize);
    const tokens = seqs.reduce((s, q) => s + q.length, 0);
    console.log(`tokens  ${seqs.length} sequences × ${seqs[0].length} tokens = ${tokens} tokens scored per backend (log-prob of every next token)`);

    let onCpu: Measured | undefined;
    if (wantBackend('cpu-reference')) {
      const cpu = await CpuCausalLM.load(c, model.weights);
      onCpu = await measure(cpu, seqs);
      cpu.dispose();
      console.log(`cpu-ref CpuCausalLM (the f32 reference, one thread): ${onCpu.tokensPerSecond.toFixed(1)} tokens/s (${onCpu.seconds.toFixed(1)} s), peak RSS ${onCpu.peakRssMb.toFixed(0)} MB`);
    }
    let onFast: Measured | undefined;
    let fast: FastCpuCausalLM | undefined;
    if (wantBackend('cpu')) {
      // The kernel alone first, on this model's matmuls for a batch of 128 tokens (q, gate/up, down).
      cpuKernelBenchmark([[128, c.hiddenSize, c.numHeads * c.headDim], [128, c.hiddenSize, c.intermediateSize], [128, c.intermediateSize, c.hiddenSize]]);
      fast = await FastCpuCausalLM.load(c, model.weights, { threads: nodeKernelThreads(benchThreads()) });
      try {
        onFast = await measure(fast, seqs);
        console.log(`cpu     FastCpuCausalLM, ${fast.description}: ${onFast.tokensPerSecond.toFixed(1)} tokens/s (${onFast.seconds.toFixed(1)} s), peak RSS ${onFast.peakRssMb.toFixed(0)} MB (weights ${(fast.weightBytes / 1e6).toFixed(0)} MB)` + (onCpu ? `; max |Δ log-prob| vs the f32 reference ${maxDiff(onFast.logProbs, onCpu.logProbs).toExponential(2)}` : ''));
      } catch (e) {
        fast.dispose();
        throw e;
      }
    } else console.log('cpu     skipped (SOUPLAB_BENCH_BACKENDS)');

    let onGpu: Measured | undefined;
    if (adapter && software && process.env.SOUPLAB_BENCH_MODEL_SOFTWARE !== '1') {
      console.log(`webgpu  ${describeAdapter(adapter).name} is a software adapter: skipped on this model (it scores a 2 M-parameter model at ~3 tokens/s; the kernels' correctness is what the tests check there). SOUPLAB_BENCH_MODEL_SOFTWARE=1 runs it anyway`);
    } else if (adapter) {
      const gpu = await WebGpuCausalLM.create(c, model.weights, { adapter });
      try {
        console.log(`webgpu  ${gpu.description}: ${describeFit(gpu.fit)}`);
        onGpu = await measure(gpu, seqs);
        console.log(`webgpu  WebGpuCausalLM: ${onGpu.tokensPerSecond.toFixed(1)} tokens/s (${onGpu.seconds.toFixed(1)} s), peak RSS ${onGpu.peakRssMb.toFixed(0)} MB, GPU memory ~${(gpu.fit.totalBytes / 1e6).toFixed(0)} MB` + (onCpu ? `; max |Δ log-prob| vs CPU ${maxDiff(onGpu.logProbs, onCpu.logProbs).toExponential(2)}` : ''));
        const flops = seqs.reduce((s, q) => s + scoringFlops(c, q.length), 0);
        const batches = Math.ceil(tokens / gpu.fit.batchTokens);
        const weightBytes = gpu.fit.weightBytes * batches;
        const achievedTflops = flops / onGpu.seconds / 1e12;
        const achievedGbps = weightBytes / onGpu.seconds / 1e9;
        const name = describeAdapter(adapter).name;
        const known = KNOWN_GPUS.find((g) => g.pattern.test(name));
        const peakTflops = Number(process.env.SOUPLAB_GPU_PEAK_TFLOPS ?? known?.tflopsF32 ?? NaN);
        const peakGbps = Number(process.env.SOUPLAB_GPU_PEAK_GBPS ?? known?.gbps ?? NaN);
        console.log(
          `webgpu  ${achievedTflops.toFixed(3)} TFLOP/s of matmul and attention (${(flops / 1e9).toFixed(1)} GFLOP), weights read at ≥ ${achievedGbps.toFixed(1)} GB/s (${batches} batch${batches > 1 ? 'es' : ''} × ${(gpu.fit.weightBytes / 1e6).toFixed(0)} MB)` +
            (software ? ' — a software adapter: these say nothing about a GPU' : '') +
            (Number.isFinite(peakTflops) ? `; ${((100 * achievedTflops) / peakTflops).toFixed(1)} % of ${peakTflops} TFLOP/s f32 peak` : '; peak FLOP/s unknown (set SOUPLAB_GPU_PEAK_TFLOPS)') +
            (Number.isFinite(peakGbps) ? `, ${((100 * achievedGbps) / peakGbps).toFixed(1)} % of ${peakGbps} GB/s` : ', peak bandwidth unknown (set SOUPLAB_GPU_PEAK_GBPS)'),
        );
      } finally {
        gpu.dispose();
      }
    }

    const fastModel = fast;
    const again = fastModel ? async () => (await measure(fastModel, seqs)).tokensPerSecond : null;
    let ref: Awaited<ReturnType<typeof measureLlamaCpp>>;
    try {
      ref = await measureLlamaCpp(model, seqs, again);
    } finally {
      fast?.dispose();
    }
    if (typeof ref === 'string') console.log(`llama.cpp not measured: ${ref}`);
    else {
      console.log(`llama.cpp node-llama-cpp 3.21.1, CPU (${llamaThreads()} thread(s)), BF16 GGUF (${ref.fileMb.toFixed(0)} MB, written by SoupLab), F32 KV cache: ${ref.tokensPerSecond.toFixed(1)} tokens/s scored (next-token probabilities at every position, as an evaluator reads them), ${ref.forwardTokensPerSecond.toFixed(1)} tokens/s for its forward alone (no probabilities, the output layer for the last position only), ${ref.allLogitsTokensPerSecond.toFixed(1)} tokens/s for its forward with the logits of every position (a greedy token each, in C++), peak RSS ${ref.peakRssMb.toFixed(0)} MB; max |Δ log-prob| vs ${onFast ? 'the fast CPU backend' : onCpu ? 'the CPU reference' : 'the WebGPU backend'} ${maxDiff((onFast ?? onCpu ?? onGpu)?.logProbs ?? [], ref.logProbs).toExponential(2)} (llama.cpp rounds activations for BF16 matmuls)`);
      const ratio = (x: number): string => `${(x / ref.tokensPerSecond).toFixed(3)} (vs its forward alone ${(x / ref.forwardTokensPerSecond).toFixed(3)})`;
      console.log(
        `ratio   tokens/s over llama.cpp's scoring (${llamaThreads()} thread(s)):` +
          (onFast ? ` fast CPU backend (${benchThreads()} thread(s)) ${ratio(onFast.tokensPerSecond)}` : '') +
          (onCpu ? ` CPU reference ${ratio(onCpu.tokensPerSecond)}` : '') +
          (onGpu ? ` WebGPU backend ${ratio(onGpu.tokensPerSecond)}` : ''),
      );
      if (onFast && ref.rounds.length > 0) {
        const ours = [onFast.tokensPerSecond, ...ref.rounds.map((r) => r.ours)];
        const theirs = [ref.forwardTokensPerSecond, ...ref.rounds.map((r) => r.forward)];
        const theirsAll = [ref.allLogitsTokensPerSecond, ...ref.rounds.map((r) => r.allLogits)];
        const best = (v: number[]) => Math.max(...v);
        const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
        const ratios = (v: number[]) => `ratio of the bests ${(best(ours) / best(v)).toFixed(3)}, of the medians ${(median(ours) / median(v)).toFixed(3)}`;
        console.log(
          `rounds  ${ours.length} alternating rounds of the fast CPU backend and llama.cpp (${benchThreads()} thread(s) each): fast CPU ${ours.map((v) => v.toFixed(1)).join(', ')} tokens/s; ` +
            `llama.cpp's forward alone ${theirs.map((v) => v.toFixed(1)).join(', ')} tokens/s: ${ratios(theirs)}; ` +
            `llama.cpp's forward with the logits of every position ${theirsAll.map((v) => v.toFixed(1)).join(', ')} tokens/s: ${ratios(theirsAll)}`,
        );
      }
    }
    // Issue 19: prefill of real-shaped (0.5 B / 1.5 B Qwen2) models on the GPU.
    await prefillBenchmark(adapter);
    return true;
  },
};

