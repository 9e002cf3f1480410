/**
 * The model runtime's contract (MODEL_CONTRACT.md): shared by the CPU twin (src/model/cpu), the WebGPU forward
 * pass (src/model/gpu), the evaluator (src/eval) and the GGUF exporter (src/model/gguf). Engine code: no DOM,
 * no Node APIs.
 */

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3';

/** Llama 3's `rope_scaling` (rope_type "llama3"): inv_freq rescaled by wavelength band. */
export interface RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  architecture: Architecture;
  /** As config.json names it, e.g. 'LlamaForCausalLM'. */
  hfArchitecture: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  vocabSize: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  attentionBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /**
   * Mistral v0.1's (and Qwen2's use_sliding_window) attention window: positions further back are masked.
   * The runtime computes full causal attention, so it refuses sequences longer than this. Absent or null: none.
   */
  slidingWindow?: number | null;
}

/** Where weights come from: a checkpoint, or a soup computed in memory. Names are Hugging Face tensor names. */
export interface WeightSource {
  names(): string[];
  shape(name: string): number[];
  dtype(name: string): 'F32' | 'F16' | 'BF16';
  /** The tensor decoded to f32. */
  readF32(name: string, signal?: AbortSignal): Promise<Float32Array>;
  /**
   * Optional: the same values in pieces of any size, in order, so that a writer (GGUF export) never holds a
   * large tensor whole. Without it, readers take readF32's one piece.
   */
  streamF32?(name: string, signal?: AbortSignal): AsyncIterable<Float32Array>;
  /**
   * Optional: the tensor's bytes as stored (little-endian, in `dtype(name)`), in pieces of any size, in order,
   * so that a runtime that keeps weights in their 16-bit dtype (the fast CPU model, the WebGPU model) never
   * decodes them to f32.
   */
  streamBytes?(name: string, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

export interface ScoreOptions {
  signal?: AbortSignal;
  onProgress?: (tokensDone: number, tokensTotal: number) => void;
}

export interface CausalLM {
  readonly config: ModelConfig;
  readonly backend: 'cpu' | 'webgpu';
  /** Per sequence of n token ids, n−1 natural-log probabilities: entry t = log p(ids[t+1] | ids[0..t]). */
  scoreTokens(sequences: readonly Int32Array[], options?: ScoreOptions): Promise<Float32Array[]>;
  /** Greedy generation of up to maxNewTokens (stops at eos). Returns only the new tokens. */
  generate(ids: Int32Array, maxNewTokens: number, options?: ScoreOptions): Promise<Int32Array>;
  /** Replace the weights from another source of the same shapes (the search soups into the loaded model). */
  reloadWeights(source: WeightSource, options?: ScoreOptions): Promise<void>;
  dispose(): void;
}

export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>): string;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}
