/** mergekit's tokenizer settings of a recipe, as data (read and written by tokenizerSpec.ts). */

/** Where a token's fallback row comes from (mergekit's TokenEmbeddingConfig.source). */
export type TokenRowSource =
  /** The row of this token in that model (mergekit: a model reference). */
  | { kind: 'model'; model: string }
  /** A row of zeros. */
  | { kind: 'zero' }
  /** The row of another token (by text or id) of that model's own vocabulary. */
  | { kind: 'model_token'; model: string; token?: string; tokenId?: number };

export interface TokenSetting {
  token: string;
  source?: TokenRowSource;
  /** Every model gets the source's row, even those that have the token. */
  force?: boolean;
  line?: number;
}

export interface TokenizerSpec {
  /** The output vocabulary: the base's, the union of every model's, or one model's (a recipe path). */
  source: string;
  tokens: TokenSetting[];
  padToMultipleOf?: number;
  line?: number;
  sourceLine?: number;
}
