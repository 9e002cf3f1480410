/**
 * A model's vocabulary as its tokenizer.json gives it — every token of `model.vocab` (BPE, WordPiece,
 * WordLevel: token → id; Unigram: a list, the index is the id) and of `added_tokens` — checked against
 * its embedding: one id per token, one token per id, every id a row of the embedding.
 */
import { InputError } from '../../errors';

export interface ModelVocab {
  /** How messages name the model. */
  label: string;
  /** token → id, the tokenizer's whole vocabulary. */
  ids: Map<string, number>;
  /** The `added_tokens` entries of tokenizer.json by content (special flags, lstrip…). */
  added: Map<string, Record<string, unknown>>;
  /** Rows of the model's embedding (every id is below it). */
  rows: number;
  /** Tokens at ids past config.json's vocab_size, left out as unused (mergekit's get_stripped_tokenizer). */
  unused: string[];
}

/**
 * The vocabulary of `tokenizerJson` (parsed), checked against an embedding `embeddingName` of `rows` rows.
 * Tokens at or past `configVocabSize` (config.json's vocab_size, when it is within the embedding) are the
 * unused ones mergekit strips; any other token past the embedding makes the vocabulary larger than it.
 */
export function readModelVocab(label: string, tokenizerJson: Record<string, unknown>, rows: number, embeddingName: string, configVocabSize?: number): ModelVocab {
  const declared = configVocabSize !== undefined && configVocabSize <= rows ? configVocabSize : undefined;
  const unused: string[] = [];
  const file = `${label}/tokenizer.json`;
  const model = tokenizerJson.model as Record<string, unknown> | undefined;
  const vocab = model?.vocab;
  const ids = new Map<string, number>();
  const byId = new Map<number, string>();
  const put = (token: string, id: unknown, where: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new InputError(`${file}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)} ${where}, not a whole number of 0 or more`);
    const other = byId.get(id);
    if (other !== undefined && other !== token) {
      throw new InputError(`${file}: token id collision: ${JSON.stringify(other)} and ${JSON.stringify(token)} both have id ${id}`);
    }
    const had = ids.get(token);
    if (had !== undefined && had !== id) {
      throw new InputError(`${file}: token id collision: ${JSON.stringify(token)} has id ${had} in the vocabulary and id ${id} ${where}`);
    }
    if (declared !== undefined && id >= declared) {
      if (!unused.includes(token)) unused.push(token);
      byId.set(id, token);
      return;
    }
    if (id >= rows) {
      throw new InputError(
        `${file}: token ${JSON.stringify(token)} has id ${id}, but ${embeddingName} has only ${rows} rows${configVocabSize !== undefined ? ` (config.json says vocab_size ${configVocabSize})` : ''}: the vocabulary is larger than the embedding`,
      );
    }
    ids.set(token, id);
    byId.set(id, token);
  };
  if (Array.isArray(vocab)) {
    vocab.forEach((entry, i) => {
      const piece = Array.isArray(entry) ? entry[0] : undefined;
      if (typeof piece !== 'string') throw new InputError(`${file}: entry ${i} of model.vocab is not a [piece, score] pair`);
      put(piece, i, 'in model.vocab');
    });
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) put(token, id, 'in model.vocab');
  } else {
    throw new InputError(`${file}: no model.vocab (the tokens and their ids)`);
  }
  const added = new Map<string, Record<string, unknown>>();
  const list = tokenizerJson.added_tokens;
  if (list !== undefined && list !== null && !Array.isArray(list)) throw new InputError(`${file}: added_tokens is not a list`);
  for (const entry of (list ?? []) as unknown[]) {
    const e = entry as Record<string, unknown> | null;
    if (typeof e?.content !== 'string') throw new InputError(`${file}: an entry of added_tokens has no content`);
    put(e.content, e.id, 'among the added tokens');
    if (ids.has(e.content)) added.set(e.content, e);
  }
  return { label, ids, added, rows, unused };
}

/** Tokens in id order. */
export function tokensById(vocab: ModelVocab): string[] {
  return [...vocab.ids.entries()].sort((a, b) => a[1] - b[1]).map(([t]) => t);
}
