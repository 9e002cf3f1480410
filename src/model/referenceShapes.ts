/**
 * The shapes of the models people soup, as their config.json files give them (Qwen2.5-0.5B/1.5B/3B,
 * Llama-3.1-8B): for fit checks and benchmarks of real sizes with generated weights. Shapes only; no
 * weights or tokenizers.
 */
import type { ModelConfig } from './types';

const QWEN2_COMMON = {
  architecture: 'qwen2',
  hfArchitecture: 'Qwen2ForCausalLM',
  headDim: 0,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  ropeScaling: null,
  vocabSize: 151_936,
  maxPositionEmbeddings: 32_768,
  tieWordEmbeddings: true,
  attentionBias: true,
  qkNorm: false,
  bosTokenId: null,
  eosTokenId: 151_643,
} as const satisfies Partial<ModelConfig>;

function qwen2(hiddenSize: number, intermediateSize: number, numLayers: number, numHeads: number): ModelConfig {
  return { ...QWEN2_COMMON, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads: 2, headDim: hiddenSize / numHeads };
}

export const REFERENCE_SHAPES = {
  'qwen2-0.5b': qwen2(896, 4864, 24, 14),
  'qwen2-1.5b': qwen2(1536, 8960, 28, 12),
  'qwen2-3b': qwen2(2048, 11008, 36, 16),
  'llama-8b': {
    architecture: 'llama',
    hfArchitecture: 'LlamaForCausalLM',
    hiddenSize: 4096,
    intermediateSize: 14336,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    rmsNormEps: 1e-5,
    ropeTheta: 500_000,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    vocabSize: 128_256,
    maxPositionEmbeddings: 131_072,
    tieWordEmbeddings: false,
    attentionBias: false,
    qkNorm: false,
    bosTokenId: 128_000,
    eosTokenId: 128_001,
  },
} satisfies Record<string, ModelConfig>;

export type ReferenceShapeName = keyof typeof REFERENCE_SHAPES;
