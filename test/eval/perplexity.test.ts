import { describe, expect, it } from 'vitest';
import { perplexityScores, rollingWindows, windowLogLikelihood, wordCount } from '../../src/eval/perplexity';

/** lm-evaluation-harness tests/test_utils.py::test_get_rolling_token_windows_v1 (max_seq_len 10, context_len 1): (input, predicted). */
const LM_EVAL_GOLD: [number[], number[]][] = [
  [[-100, 0, 1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [[9, 10, 11, 12, 13, 14, 15, 16, 17, 18], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]],
  [[19, 20, 21, 22, 23, 24, 25, 26, 27, 28], [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]],
  [[23, 24, 25, 26, 27, 28, 29, 30, 31, 32], [30, 31, 32, 33]],
];

describe('rolling perplexity windows', () => {
  it("equal lm-eval's published windows (made disjoint): the sequence fed, and which tokens each predicts", () => {
    const windows = rollingWindows([...Array(34).keys()], -100, 10);
    expect(windows.length).toBe(LM_EVAL_GOLD.length);
    windows.forEach((w, i) => {
      const [input, predicted] = LM_EVAL_GOLD[i];
      // scoreTokens(sequence) predicts sequence[1..]; the window's predictions are its last `predicted` entries.
      const fed = [...w.sequence].slice(0, -1);
      expect(fed.slice(-input.length)).toEqual(input.slice(-fed.length));
      expect([...w.sequence].slice(-w.predicted)).toEqual(predicted);
      expect(w.sequence.length - 1).toBeLessThanOrEqual(10);
    });
  });

  it('predicts every token exactly once with at most maxLength tokens of history, for any length', () => {
    for (const n of [1, 2, 9, 10, 11, 20, 21, 57]) {
      for (const maxLength of [1, 2, 5, 10]) {
        const tokens = Array.from({ length: n }, (_, i) => 1000 + i);
        const predicted: number[] = [];
        for (const w of rollingWindows(tokens, 7, maxLength)) {
          expect(w.sequence.length - 1).toBeLessThanOrEqual(maxLength);
          const seq = [...w.sequence];
          // Contiguous: either [prefix, tokens[0..]] or a slice of the tokens.
          const start = seq[0] === 7 ? -1 : seq[0] - 1000;
          seq.forEach((t, j) => expect(t).toBe(start + j === -1 ? 7 : 1000 + start + j));
          predicted.push(...seq.slice(-w.predicted));
        }
        expect(predicted).toEqual(tokens);
      }
    }
  });

  it('sums the predicted tokens only', () => {
    const w = { sequence: Int32Array.from([1, 2, 3, 4]), predicted: 2 };
    expect(windowLogLikelihood(w, Float32Array.from([-100, -1, -2]))).toBe(-3);
  });

  it('reports per token, byte and word', () => {
    const s = perplexityScores({ nll: 10, tokens: 5, bytes: 20, words: 4 });
    expect(s.perplexity).toBeCloseTo(Math.exp(2), 12);
    expect(s.byte_perplexity).toBeCloseTo(Math.exp(0.5), 12);
    expect(s.bits_per_byte).toBeCloseTo(0.5 / Math.LN2, 12);
    expect(s.word_perplexity).toBeCloseTo(Math.exp(2.5), 12);
    expect(wordCount('  a  b\nc\t')).toBe(3);
  });
});
