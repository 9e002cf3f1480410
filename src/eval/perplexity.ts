/**
 * Perplexity over text, windowed as lm-evaluation-harness's loglikelihood_rolling does
 * (lm_eval.utils.get_rolling_token_windows with context_len = 1, then make_disjoint_window): the
 * document's tokens (no special tokens) are cut into windows of at most `maxLength` predicted tokens;
 * the first window is fed [prefix] + tokens and predicts every token of the document's start; each
 * later window is fed up to `maxLength` tokens of history and predicts only tokens not yet predicted.
 * Every token of the document is predicted exactly once. The prefix is bos (else eos).
 *
 * Reported as tokens and as bytes and words (lm-eval's wikitext metrics): perplexity = exp(nll / tokens),
 * byte_perplexity = exp(nll / bytes), bits_per_byte = nll / bytes / ln 2, word_perplexity =
 * exp(nll / words), with nll the summed negative log-likelihood in nats and words counted as lm-eval's
 * wikitext does (runs of non-space characters).
 */
import type { TextTokenizer } from '../model/types';
import { utf8Length } from './multipleChoice';

export interface Window {
  /** Fed to the model: history then the predicted tokens but the last (scoreTokens input). */
  sequence: Int32Array;
  /** How many of the sequence's log-probs, counted from the end, belong to this window's predictions. */
  predicted: number;
}

/** lm-eval's rolling windows (context_len 1) made disjoint, as sequences for CausalLM.scoreTokens. */
export function rollingWindows(tokens: number[], prefix: number, maxLength: number): Window[] {
  if (tokens.length === 0) return [];
  if (maxLength < 1) throw new RangeError(`maxLength must be at least 1, got ${maxLength}`);
  const out: Window[] = [];
  // First window: [prefix] + tokens[0 .. first−1] predicts tokens[0 .. first).
  const first = Math.min(maxLength, tokens.length);
  out.push({ sequence: Int32Array.from([prefix, ...tokens.slice(0, first)]), predicted: first });
  let predicted = first;
  while (predicted < tokens.length) {
    const count = Math.min(tokens.length - predicted, maxLength);
    const end = predicted + count;
    // History: the maxLength tokens before the last prediction; the fed input is tokens[end − maxLength − 1 .. end − 1).
    const start = Math.max(0, end - maxLength - 1);
    out.push({ sequence: Int32Array.from(tokens.slice(start, end)), predicted: count });
    predicted = end;
  }
  return out;
}

/** Σ log-probs of the window's predicted tokens from scoreTokens' output for its sequence. */
export function windowLogLikelihood(window: Window, logProbs: Float32Array): number {
  let sum = 0;
  for (let t = logProbs.length - window.predicted; t < logProbs.length; t++) sum += logProbs[t];
  return sum;
}

export interface PerplexityTotals {
  /** Summed negative log-likelihood, nats. */
  nll: number;
  tokens: number;
  bytes: number;
  words: number;
}

export interface PerplexityScores extends PerplexityTotals {
  perplexity: number;
  byte_perplexity: number;
  bits_per_byte: number;
  word_perplexity: number;
}

export function perplexityScores(t: PerplexityTotals): PerplexityScores {
  return {
    ...t,
    perplexity: Math.exp(t.nll / Math.max(1, t.tokens)),
    byte_perplexity: Math.exp(t.nll / Math.max(1, t.bytes)),
    bits_per_byte: t.nll / Math.max(1, t.bytes) / Math.LN2,
    word_perplexity: Math.exp(t.nll / Math.max(1, t.words)),
  };
}

/** lm-eval's wikitext word count: whitespace-separated pieces. */
export function wordCount(text: string): number {
  return text.split(/\s+/u).filter((w) => w !== '').length;
}

export function documentTotals(text: string): Omit<PerplexityTotals, 'nll' | 'tokens'> {
  return { bytes: utf8Length(text), words: wordCount(text) };
}

export function encodeDocument(tokenizer: TextTokenizer, text: string): number[] {
  return tokenizer.encode(text, { addSpecialTokens: false });
}
