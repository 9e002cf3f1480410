/**
 * The CPU forward pass: a decoder-only transformer (Llama, Mistral, Qwen2, Qwen3) in f32, built from the
 * kernels' CPU twins. It is the reference for the WebGPU model and the evaluator's fallback backend.
 */
import { checkTokenIds } from '../tokenIds';
import { InputError, throwIfAborted } from '../../errors';
import type { CausalLM, ModelConfig, ScoreOptions, WeightSource } from '../types';
import { checkWeights, EMBED_TOKENS, FINAL_NORM, layerTensorNames, LM_HEAD } from '../weights';
import { addBias, addInPlace, causalAttention, embed, logSoftmax, matmul, rmsNorm, rope, ropeInvFreq, swiglu } from './ops';

interface LayerWeights {
  inputNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qBias: Float32Array | null;
  kBias: Float32Array | null;
  vBias: Float32Array | null;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  o: Float32Array;
  postNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

interface Weights {
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  lmHead: Float32Array;
}

/** Keys and values of the positions seen so far, per layer ([rows, kvHeads, headDim], grown by doubling). */
export class KvCache {
  rows = 0;
  private capacity = 0;
  readonly k: Float32Array[] = [];
  readonly v: Float32Array[] = [];
  constructor(
    private readonly layers: number,
    private readonly rowSize: number,
  ) {}

  /** Appends `rows` new rows to layer `l` (call for every layer, then commit(rows)). */
  append(l: number, k: Float32Array, v: Float32Array, rows: number): void {
    const need = this.rows + rows;
    if (need > this.capacity) {
      const capacity = Math.max(need, this.capacity * 2, 16);
      for (let i = 0; i < this.layers; i++) {
        const nk = new Float32Array(capacity * this.rowSize);
        const nv = new Float32Array(capacity * this.rowSize);
        if (this.k[i]) {
          nk.set(this.k[i].subarray(0, this.rows * this.rowSize));
          nv.set(this.v[i].subarray(0, this.rows * this.rowSize));
        }
        this.k[i] = nk;
        this.v[i] = nv;
      }
      this.capacity = capacity;
    }
    this.k[l].set(k.subarray(0, rows * this.rowSize), this.rows * this.rowSize);
    this.v[l].set(v.subarray(0, rows * this.rowSize), this.rows * this.rowSize);
  }

  commit(rows: number): void {
    this.rows += rows;
  }
}

/** Lets timers and abort signals run between long stretches of arithmetic. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class CpuCausalLM implements CausalLM {
  readonly backend = 'cpu' as const;
  private weights: Weights | null;
  private readonly invFreq: Float32Array;

  private constructor(
    readonly config: ModelConfig,
    weights: Weights,
  ) {
    this.weights = weights;
    this.invFreq = ropeInvFreq(config.headDim, config.ropeTheta, config.ropeScaling);
  }

  /** Reads every weight of `source` (checked against the config first) into f32 arrays. */
  static async load(config: ModelConfig, source: WeightSource, options: ScoreOptions & { name?: string } = {}): Promise<CpuCausalLM> {
    return new CpuCausalLM(config, await readWeights(config, source, options.name ?? 'model', options.signal));
  }

  async reloadWeights(source: WeightSource, options: ScoreOptions = {}): Promise<void> {
    this.live();
    this.weights = await readWeights(this.config, source, 'new weights', options.signal);
  }

  dispose(): void {
    this.weights = null;
  }

  async scoreTokens(sequences: readonly Int32Array[], options: ScoreOptions = {}): Promise<Float32Array[]> {
    const total = sequences.reduce((s, q) => s + q.length, 0);
    let done = 0;
    const results: Float32Array[] = [];
    for (const ids of sequences) this.checkIds(ids);
    for (const ids of sequences) {
      const n = ids.length;
      const out = new Float32Array(Math.max(0, n - 1));
      if (n >= 2) {
        const V = this.config.vocabSize;
        const logProbs = logSoftmax(await this.logits(ids.subarray(0, n - 1), options), n - 1, V);
        for (let t = 0; t + 1 < n; t++) out[t] = logProbs[t * V + ids[t + 1]];
      }
      results.push(out);
      done += n;
      options.onProgress?.(done, total);
    }
    return results;
  }

  /** The next-token logits after every prefix of `ids`: [ids.length, vocabSize] (for tests and the GPU twin). */
  async logits(ids: Int32Array, options: Pick<ScoreOptions, 'signal'> = {}): Promise<Float32Array> {
    this.checkIds(ids);
    if (ids.length === 0) return new Float32Array(0);
    return this.forward(ids, this.newCache(), 0, ids.length, options.signal);
  }

  async generate(ids: Int32Array, maxNewTokens: number, options: ScoreOptions = {}): Promise<Int32Array> {
    this.checkIds(ids);
    if (ids.length === 0) throw new InputError('generate: the prompt has no tokens');
    const cache = this.newCache();
    const out: number[] = [];
    let input: Int32Array = ids;
    for (let step = 0; step < maxNewTokens; step++) {
      const logits = await this.forward(input, cache, input.length - 1, 1, options.signal);
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      out.push(best);
      options.onProgress?.(step + 1, maxNewTokens);
      if (best === this.config.eosTokenId) break;
      input = Int32Array.of(best);
    }
    return Int32Array.from(out);
  }

  private live(): Weights {
    if (this.weights === null) throw new Error('CpuCausalLM: used after dispose()');
    return this.weights;
  }

  private newCache(): KvCache {
    return new KvCache(this.config.numLayers, this.config.numKvHeads * this.config.headDim);
  }

  private checkIds(ids: Int32Array): void {
    checkTokenIds(ids, this.config.vocabSize);
  }

  /**
   * Runs `ids` (at positions cache.rows, cache.rows + 1, …) through the model, appending to the cache, and
   * returns the logits of rows first … first + count − 1 of `ids` ([count, vocab]).
   */
  private async forward(ids: Int32Array, cache: KvCache, first: number, count: number, signal: AbortSignal | undefined): Promise<Float32Array> {
    const w = this.live();
    const c = this.config;
    const n = ids.length;
    const D = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const past = cache.rows;
    const maxPos = c.maxPositionEmbeddings;
    if (past + n > maxPos) throw new InputError(`the sequence has ${past + n} tokens, more than the model's context of ${maxPos}`);
    const window = c.slidingWindow ?? null;
    if (window !== null && past + n > window) {
      throw new InputError(`the sequence has ${past + n} tokens, more than the model's sliding attention window of ${window}, which SoupLab does not implement`);
    }

    const x = embed(w.embed, ids, D);
    const normed = new Float32Array(n * D);
    for (let l = 0; l < c.numLayers; l++) {
      throwIfAborted(signal);
      const L = w.layers[l];
      rmsNorm(x, L.inputNorm, n, D, c.rmsNormEps, normed);
      const q = matmul(normed, L.q, n, D, qDim);
      const k = matmul(normed, L.k, n, D, kvDim);
      const v = matmul(normed, L.v, n, D, kvDim);
      if (L.qBias) addBias(q, L.qBias, n);
      if (L.kBias) addBias(k, L.kBias, n);
      if (L.vBias) addBias(v, L.vBias, n);
      if (L.qNorm) rmsNorm(q, L.qNorm, n * c.numHeads, c.headDim, c.rmsNormEps, q);
      if (L.kNorm) rmsNorm(k, L.kNorm, n * c.numKvHeads, c.headDim, c.rmsNormEps, k);
      rope(q, n, c.numHeads, c.headDim, this.invFreq, past);
      rope(k, n, c.numKvHeads, c.headDim, this.invFreq, past);
      cache.append(l, k, v, n);
      const attn = causalAttention(q, cache.k[l], cache.v[l], n, past, c.numHeads, c.numKvHeads, c.headDim);
      addInPlace(x, matmul(attn, L.o, n, qDim, D));

      rmsNorm(x, L.postNorm, n, D, c.rmsNormEps, normed);
      const gate = matmul(normed, L.gate, n, D, c.intermediateSize);
      const up = matmul(normed, L.up, n, D, c.intermediateSize);
      addInPlace(x, matmul(swiglu(gate, up, gate), L.down, n, c.intermediateSize, D));
      await yieldToEventLoop();
    }
    cache.commit(n);
    throwIfAborted(signal);
    const final = rmsNorm(x.subarray(first * D, (first + count) * D), w.finalNorm, count, D, c.rmsNormEps);
    return matmul(final, w.lmHead, count, D, c.vocabSize);
  }
}

async function readWeights(c: ModelConfig, source: WeightSource, name: string, signal: AbortSignal | undefined): Promise<Weights> {
  checkWeights(c, source, name);
  const read = (n: string) => source.readF32(n, signal);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const n = layerTensorNames(l);
    layers.push({
      inputNorm: await read(n.inputNorm),
      q: await read(n.q),
      k: await read(n.k),
      v: await read(n.v),
      qBias: c.attentionBias ? await read(n.qBias) : null,
      kBias: c.attentionBias ? await read(n.kBias) : null,
      vBias: c.attentionBias ? await read(n.vBias) : null,
      qNorm: c.qkNorm ? await read(n.qNorm) : null,
      kNorm: c.qkNorm ? await read(n.kNorm) : null,
      o: await read(n.o),
      postNorm: await read(n.postNorm),
      gate: await read(n.gate),
      up: await read(n.up),
      down: await read(n.down),
    });
  }
  const embedding = await read(EMBED_TOKENS);
  return {
    embed: embedding,
    layers,
    finalNorm: await read(FINAL_NORM),
    lmHead: c.tieWordEmbeddings ? embedding : await read(LM_HEAD),
  };
}
