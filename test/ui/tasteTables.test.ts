import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScoreTable, parseTrials, rankTrials } from '../../src/analysis';
import { isTaskFileName } from '../../src/eval/taskFile';
import type { TaskResult } from '../../src/eval/evaluate';
import { DEMO_TASK_FILES } from '../../src/ui/taste/demoTasks';
import type { ModelResult } from '../../src/ui/taste/protocol';
import { tasteScoreCsv, tasteTrialsCsv } from '../../src/ui/taste/tables';

function mc(name: string, acc: number, accNorm: number): TaskResult {
  return { name, file: `${name}.jsonl`, kind: 'multiple_choice', acc, acc_norm: accNorm, items: [] };
}
function ppl(name: string, bitsPerByte: number): TaskResult {
  return { name, file: `${name}.txt`, kind: 'perplexity', documents: [], nll: 1, tokens: 1, bytes: 1, words: 1, perplexity: 1, byte_perplexity: 1, word_perplexity: 1, bits_per_byte: bitsPerByte } as TaskResult;
}

const results: ModelResult[] = [
  { model: 'soup', role: 'soup', seconds: 1, results: [mc('facts', 0.5, 0.75), ppl('prose', 2)] },
  { model: 'a', role: 'ingredient', seconds: 1, results: [mc('facts', 0.25, 0.5), ppl('prose', 2.5)] },
  { model: 'b', role: 'ingredient', seconds: 1, results: [mc('facts', 1, 0.25), ppl('prose', 3)] },
];

describe('Taste results for the other views', () => {
  it('a score table the Scores view reads: models × task categories, acc_norm % and −bits/byte', () => {
    const table = parseScoreTable([{ name: 'taste-scores.csv', text: tasteScoreCsv(results, 'acc_norm') }]);
    expect(table.models).toEqual(['soup', 'a', 'b']);
    expect(table.categories).toEqual(['facts', 'prose']);
    const col = (n: string) => table.columns.find((c) => c.name === n)!.values;
    expect(col('facts')).toEqual([75, 50, 25]);
    expect(col('prose')).toEqual([-2, -2.5, -3]);
    const acc = parseScoreTable([{ name: 'taste-scores.csv', text: tasteScoreCsv(results, 'acc') }]);
    expect(acc.columns.find((c) => c.name === 'facts')!.values).toEqual([50, 25, 100]);
  });

  it('a trials table the Trials view reads: the soup at its normalised weights, each ingredient alone', () => {
    const t = parseTrials({ name: 'taste-trials.csv', text: tasteTrialsCsv(results, { a: 3, b: 1 }, 'acc_norm') });
    expect(t.models).toEqual(['a', 'b']);
    expect(t.trials.map((x) => [x.id, x.normalized])).toEqual([
      ['soup', [0.75, 0.25]],
      ['a', [1, 0]],
      ['b', [0, 1]],
    ]);
    expect(t.scores.categories).toEqual(['facts', 'prose']);
  });

  it("the trials table's categories are on the objective's one scale: perplexity as 100 · 2^(−bits/byte) %", () => {
    const t = parseTrials({ name: 'taste-trials.csv', text: tasteTrialsCsv(results, { a: 3, b: 1 }, 'acc_norm') });
    const col = (n: string) => t.scores.columns.find((c) => c.name === n)!.values;
    // acc_norm % as it is; 2, 2.5 and 3 bits/byte are a mean per-byte probability of 1/4, 1/(4√2) and 1/8.
    expect(col('facts')).toEqual([75, 50, 25]);
    const prose = col('prose') as number[];
    for (const [i, want] of [25, 25 / Math.SQRT2, 12.5].entries()) expect(prose[i]).toBeCloseTo(want, 5);
    // What the Trials view sums: like with like (the soup: 75 % + 25 %), not 75 − 2.
    const ranking = rankTrials(t);
    expect(ranking.ranked.find((r) => r.id === 'soup')!.objective).toBeCloseTo(100, 5);
    expect(ranking.ranked.map((r) => r.id)).toEqual(['soup', 'a', 'b']);
  });

  it('the studio offers every task file of the shipped demo task set', () => {
    expect([...DEMO_TASK_FILES].sort()).toEqual(readdirSync('public/demo/tasks').filter(isTaskFileName).sort());
  });
});
