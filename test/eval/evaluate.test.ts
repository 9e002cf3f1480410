import { describe, expect, it, onTestFinished } from 'vitest';
import { join } from 'node:path';
import { prepareTasks, scoreTasks } from '../../src/eval/evaluate';
import { parseTaskFile } from '../../src/eval/taskFile';
import type { CausalLM, TextTokenizer } from '../../src/model/types';
import { tempDir } from '../model/helpers';
import { loadCpuModel, MC_ITEMS, writeTinyModel } from './helpers';

/** A model folder in a temporary folder (test/model/helpers.ts' tempDir), removed when the test ends. */
async function modelFolder(): Promise<string> {
  const dir = await tempDir();
  onTestFinished(dir.remove);
  return join(dir.path, 'm');
}

/**
 * An independent computation of lm-eval's multiple-choice scoring, written from lm-eval's HFLM._encode_pair
 * and its acc / acc_norm: every continuation token's log-prob is taken from its own prefix, scored on its
 * own (the model sees a different sequence length for every token), not from one pass over the sequence.
 */
async function referenceScores(model: CausalLM, tok: TextTokenizer, item: { query: string; choices: string[]; gold: number }) {
  const lls: number[] = [];
  for (const choice of item.choices) {
    let context = item.query;
    let continuation = ' ' + choice;
    const n = context.length - context.trimEnd().length;
    if (n > 0) {
      continuation = context.slice(-n) + continuation;
      context = context.slice(0, -n);
    }
    const whole = tok.encode(context + continuation, { addSpecialTokens: false });
    const ctx = tok.encode(context, { addSpecialTokens: false });
    const cont = whole.slice(ctx.length);
    let ll = 0;
    for (let j = 0; j < cont.length; j++) {
      const prefix = Int32Array.from([...ctx, ...cont.slice(0, j + 1)]);
      const [lp] = await model.scoreTokens([prefix]);
      ll += lp[lp.length - 1];
    }
    lls.push(ll);
  }
  const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
  // lm-eval's acc_norm divides by len(choice) in characters; for these items that is also the UTF-8 byte count except "Café".
  const bytes = item.choices.map((c) => new TextEncoder().encode(c).length);
  return { lls, pred: argmax(lls), predNorm: argmax(lls.map((l, i) => l / bytes[i])) };
}

describe('multiple choice, lm-eval style, on generated models', () => {
  for (const architecture of ['llama', 'qwen2'] as const) {
    it(`${architecture}: log-likelihoods, pred and pred_norm equal an independent prefix-by-prefix computation`, async () => {
      const dir = await writeTinyModel(await modelFolder(), { architecture, seed: 3 });
      const { model, tokenizer, config } = await loadCpuModel(dir);
      const file = parseTaskFile('tiny.jsonl', MC_ITEMS.map((i) => JSON.stringify(i)).join('\n'));
      const { tasks, problems } = prepareTasks(tokenizer, [file], config.maxPositionEmbeddings);
      expect(problems).toEqual([]);
      const [result] = await scoreTasks(model, tasks, { batchTokens: 17 });
      if (result.kind !== 'multiple_choice') throw new Error();
      let acc = 0;
      let accNorm = 0;
      for (const [i, item] of MC_ITEMS.entries()) {
        const ref = await referenceScores(model, tokenizer, item);
        const got = result.items[i];
        got.loglikelihoods.forEach((ll, c) => expect(ll).toBeCloseTo(ref.lls[c], 4));
        expect(got.pred).toBe(ref.pred);
        expect(got.pred_norm).toBe(ref.predNorm);
        expect(got.gold).toBe(item.gold);
        acc += ref.pred === item.gold ? 1 : 0;
        accNorm += ref.predNorm === item.gold ? 1 : 0;
      }
      expect(result.acc).toBe(acc / MC_ITEMS.length);
      expect(result.acc_norm).toBe(accNorm / MC_ITEMS.length);
    });
  }

  it("moves the query's trailing whitespace into the continuation", async () => {
    const dir = await writeTinyModel(await modelFolder(), { architecture: 'llama', seed: 4 });
    const { tokenizer } = await loadCpuModel(dir);
    const { tasks } = prepareTasks(tokenizer, [parseTaskFile('w.jsonl', JSON.stringify({ query: 'Answer: ', choices: ['yes', 'no'], gold: 0 }))], 512);
    if (tasks[0].kind !== 'multiple_choice') throw new Error();
    const c = tasks[0].items[0].choices[0];
    expect([...c.sequence.slice(0, c.contextLength)]).toEqual(tokenizer.encode('Answer:', { addSpecialTokens: false }));
    expect(tokenizer.decode(c.sequence.slice(c.contextLength))).toBe('  yes');
  });

  it('an item longer than the context is reported with its file and line; the others are scored', async () => {
    const dir = await writeTinyModel(await modelFolder(), { architecture: 'llama', seed: 5 });
    const { tokenizer } = await loadCpuModel(dir);
    const long = { query: 'The quick brown fox '.repeat(20), choices: ['a', 'b'], gold: 0 };
    const file = parseTaskFile('long.jsonl', [MC_ITEMS[0], long, MC_ITEMS[1]].map((i) => JSON.stringify(i)).join('\n'));
    const { tasks, problems } = prepareTasks(tokenizer, [file], 32);
    expect(problems).toEqual([expect.stringMatching(/^long\.jsonl line 2: query \+ choice 0 are \d+ tokens, longer than the model's context of 32$/)]);
    if (tasks[0].kind !== 'multiple_choice') throw new Error();
    expect(tasks[0].items.map((i) => i.item.line)).toEqual([1, 3]);
  });
});

describe('perplexity on generated models', () => {
  it('one window: equals scoring [bos] + the text in one pass; windowed: every token predicted once', async () => {
    const dir = await writeTinyModel(await modelFolder(), { architecture: 'qwen3', seed: 6 });
    const { model, tokenizer } = await loadCpuModel(dir);
    const text = 'A soup of models is the average of their weights. The quick brown fox jumps over the lazy dog.';
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId!;
    const [whole] = await model.scoreTokens([Int32Array.from([prefix, ...ids])]);
    const expectedNll = -whole.reduce((a, b) => a + b, 0);
    const file = parseTaskFile('doc.txt', text);
    const one = await scoreTasks(model, prepareTasks(tokenizer, [file], 512).tasks);
    const r = one[0];
    if (r.kind !== 'perplexity') throw new Error();
    expect(r.tokens).toBe(ids.length);
    expect(r.nll).toBeCloseTo(expectedNll, 3);
    expect(r.perplexity).toBeCloseTo(Math.exp(expectedNll / ids.length), 4);
    expect(r.bits_per_byte).toBeCloseTo(expectedNll / new TextEncoder().encode(text).length / Math.LN2, 5);
    expect(r.words).toBe(19);

    // Windows of 8 tokens, against lm-eval's get_rolling_token_windows + make_disjoint_window transcribed here.
    const windowed = (await scoreTasks(model, prepareTasks(tokenizer, [file], 8).tasks))[0];
    if (windowed.kind !== 'perplexity') throw new Error();
    expect(windowed.tokens).toBe(ids.length);
    const maxLen = 8;
    const pairs: [number[], number[]][] = [];
    const firstLen = Math.min(maxLen, ids.length);
    pairs.push([[prefix, ...ids.slice(0, firstLen - 1)], ids.slice(0, firstLen)]);
    let predicted = firstLen;
    while (predicted < ids.length) {
      const predLen = Math.min(ids.length - predicted, maxLen);
      const end = predicted + predLen;
      pairs.push([ids.slice(end - maxLen - 1, end - 1), ids.slice(end - predLen, end)]);
      predicted += predLen;
    }
    let ll = 0;
    for (const [a, b] of pairs) {
      const context = a.slice(0, a.length - (b.length - 1));
      const [lp] = await model.scoreTokens([Int32Array.from([...context, ...b])]);
      for (let t = lp.length - b.length; t < lp.length; t++) ll += lp[t];
    }
    expect(pairs.length).toBeGreaterThan(2);
    expect(windowed.nll).toBeCloseTo(-ll, 3);
  });
});
