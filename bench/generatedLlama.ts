/**
 * The generated Llama the model-runtime benchmarks run on (`model`, `search`): scripts/tinyModel.ts at a
 * realistic size, BF16 weights, heads of 64 dimensions. One place for the shape, so that both benchmarks
 * speak of the same kind of model.
 */
import { tinyModel, tinyTokenizer, type TinyModel } from '../scripts/tinyModel';

export interface GeneratedLlamaSize {
  hidden: number;
  layers: number;
  intermediate: number;
  /** Key/value heads (grouped-query attention); the query heads are hidden / 64. */
  kvHeads: number;
  /** max_position_embeddings (tinyModel's 512 unless given). */
  context?: number;
  /**
   * The vocabulary, padded to this size (the tokenizer's ids stay the first rows); the tokenizer's own
   * size when undefined.
   */
  vocab?: number;
}

/** Byte-pair merges of the generated tokenizer (tinyModel's default). */
const MERGES = 200;

/** A generated BF16 Llama of `size`: the base of `seed`, or its fine-tune by `deltaSeed`. */
export function generatedLlama(size: GeneratedLlamaSize, seeds: { seed: number; deltaSeed?: number }): Promise<TinyModel> {
  return tinyModel({
    architecture: 'llama',
    dtype: 'BF16',
    ...seeds,
    hiddenSize: size.hidden,
    intermediateSize: size.intermediate,
    numLayers: size.layers,
    numHeads: size.hidden / 64,
    numKvHeads: size.kvHeads,
    numMerges: MERGES,
    maxPositionEmbeddings: size.context,
    vocabPadding: size.vocab === undefined ? 0 : Math.max(0, size.vocab - tinyTokenizer('llama', MERGES).size),
  });
}
