/**
 * Real models' shapes for generated test and benchmark models (tinyModel options): the sizes that matter
 * for speed and memory, with seeded random weights.
 */
import { tinyTokenizer, type TinyModelOptions } from './tinyModel';

/** Qwen2-0.5B: hidden 896, 24 layers, 14 query / 2 kv heads, intermediate 4864, vocabulary 151,936, tied embeddings, BF16. */
export function qwen2HalfB(overrides: Partial<TinyModelOptions> = {}): TinyModelOptions {
  return {
    architecture: 'qwen2',
    dtype: 'BF16',
    seed: 1,
    hiddenSize: 896,
    numHeads: 14,
    numKvHeads: 2,
    intermediateSize: 4864,
    numLayers: 24,
    vocabPadding: 151936 - tinyTokenizer('qwen2').size,
    tieWordEmbeddings: true,
    ...overrides,
  };
}
