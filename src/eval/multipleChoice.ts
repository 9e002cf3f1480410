/**
 * Multiple choice as lm-evaluation-harness scores it (HFLM._encode_pair and the `acc`/`acc_norm` metrics):
 *   - the continuation is target_delimiter + choice (" " by default); whitespace at the end of the
 *     query moves to the front of the continuation;
 *   - context = tok(query), continuation = tok(query + continuation)[len(context):], no special tokens
 *     added (lm-eval's default for causal models); an empty context becomes [bos] (else [eos]);
 *   - loglikelihood = Σ of the continuation tokens' log-probs;
 *   - acc: argmax of the loglikelihoods == gold; acc_norm: argmax of loglikelihood ÷ the choice's
 *     length. lm-eval divides by the length in characters; SoupLab divides by the choice's UTF-8 byte
 *     length (the same for ASCII, and independent of how a language is encoded in UTF-16).
 * Ties go to the first choice, as numpy's argmax does.
 */
import type { TextTokenizer } from '../model/types';
import type { MultipleChoiceItem } from './taskFile';

export interface EncodedChoice {
  /** Token ids of context + continuation: the sequence scored. */
  sequence: Int32Array;
  /** How many leading tokens are context (≥ 1). */
  contextLength: number;
}

export interface EncodedItem {
  item: MultipleChoiceItem;
  choices: EncodedChoice[];
}

/** lm-eval's _encode_pair: (context tokens, continuation tokens). */
export function encodePair(tokenizer: TextTokenizer, context: string, continuation: string): { context: number[]; continuation: number[] } {
  const trimmed = context.replace(/\s+$/u, '');
  const spaces = context.slice(trimmed.length);
  const whole = tokenizer.encode(trimmed + spaces + continuation, { addSpecialTokens: false });
  const ctx = tokenizer.encode(trimmed, { addSpecialTokens: false });
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** The token sequences of one item's choices, or the reason it cannot be scored (e.g. too long). */
export function encodeItem(tokenizer: TextTokenizer, item: MultipleChoiceItem, maxLength: number): EncodedItem | string {
  const prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  const choices: EncodedChoice[] = [];
  for (const [i, choice] of item.choices.entries()) {
    const pair = encodePair(tokenizer, item.query, item.delimiter + choice);
    const continuation = pair.continuation;
    let context = pair.context;
    if (context.length === 0) {
      if (prefix === null) return 'the query is empty and the tokenizer has neither a bos nor an eos token to start from';
      context = [prefix];
    }
    if (continuation.length === 0) return `choice ${i} ("${choice}") adds no tokens after the query`;
    const length = context.length + continuation.length;
    // The last token is only predicted, never fed, so the model sees length − 1 positions.
    if (length - 1 > maxLength) return `query + choice ${i} are ${length} tokens, longer than the model's context of ${maxLength}`;
    choices.push({ sequence: Int32Array.from([...context, ...continuation]), contextLength: context.length });
  }
  return { item, choices };
}

/** Σ of the continuation's log-probs, from scoreTokens' output for the whole sequence. */
export function continuationLogLikelihood(choice: EncodedChoice, logProbs: Float32Array): number {
  // logProbs[t] = log p(ids[t+1] | ids[..t]): the continuation's tokens are ids[contextLength..].
  let sum = 0;
  for (let t = choice.contextLength - 1; t < choice.sequence.length - 1; t++) sum += logProbs[t];
  return sum;
}

export interface MultipleChoiceItemResult {
  loglikelihoods: number[];
  gold: number;
  pred: number;
  pred_norm: number;
}

/** pred, pred_norm and both correctness flags from one item's loglikelihoods. */
export function decideItem(item: MultipleChoiceItem, loglikelihoods: number[]): MultipleChoiceItemResult {
  const bytes = item.choices.map((c) => Math.max(1, utf8Length(c)));
  return {
    loglikelihoods,
    gold: item.gold,
    pred: argmax(loglikelihoods),
    pred_norm: argmax(loglikelihoods.map((ll, i) => ll / bytes[i])),
  };
}

export function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best] || (Number.isNaN(xs[best]) && !Number.isNaN(xs[i]))) best = i;
  return best;
}

export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
