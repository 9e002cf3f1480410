/**
 * The CPU model's own contract (its numbers are checked against llama.cpp in llamaReferee.test.ts): the KV
 * cache path of generate equals a full forward pass, reloadWeights swaps the model, bad ids and cancel.
 */
import { describe, expect, test } from 'vitest';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { CancelledError, InputError } from '../../src/errors';
import { openTinyModel } from './helpers';

describe('CpuCausalLM', () => {
  test('generate (prefill + KV cache) picks the argmax a full pass over the growing sequence gives', async () => {
    const m = await openTinyModel({ architecture: 'llama', seed: 3 });
    const lm = await CpuCausalLM.load(m.config, m.weights);
    const prompt = Int32Array.from(m.tokenizer!.encode('The quick brown fox'));
    const generated = await lm.generate(prompt, 6);
    expect(generated.length).toBeGreaterThan(0);
    const V = m.config.vocabSize;
    let seq = Array.from(prompt);
    for (const next of generated) {
      const logits = await lm.logits(Int32Array.from(seq));
      const last = logits.subarray((seq.length - 1) * V, seq.length * V);
      expect(last.indexOf(Math.max(...last))).toBe(next);
      seq = [...seq, next];
    }
  });

  test('scoreTokens: n−1 log-probs per sequence, batch order kept, ≤ 0, progress reported', async () => {
    const m = await openTinyModel({ architecture: 'qwen3', seed: 4 });
    const lm = await CpuCausalLM.load(m.config, m.weights);
    const a = Int32Array.from(m.tokenizer!.encode('hello there'));
    const b = Int32Array.from(m.tokenizer!.encode('a longer sentence about soups'));
    const seen: number[] = [];
    const [ra, rb, rc] = await lm.scoreTokens([a, b, Int32Array.of(5)], { onProgress: (d) => seen.push(d) });
    const [rb2] = await lm.scoreTokens([b]);
    expect([ra.length, rb.length, rc.length]).toEqual([a.length - 1, b.length - 1, 0]);
    expect(Array.from(rb)).toEqual(Array.from(rb2));
    expect([...ra, ...rb].every((x) => x <= 0 && Number.isFinite(x))).toBe(true);
    expect(seen).toEqual([a.length, a.length + b.length, a.length + b.length + 1]);
  });

  test('reloadWeights: another fine-tune scores differently; the first one again scores as before', async () => {
    const base = await openTinyModel({ architecture: 'mistral', seed: 6 });
    const tuned = await openTinyModel({ architecture: 'mistral', seed: 6, deltaSeed: 9 });
    const lm = await CpuCausalLM.load(base.config, base.weights);
    const ids = Int32Array.from(base.tokenizer!.encode('Souping fine-tunes of one base model.'));
    const [before] = await lm.scoreTokens([ids]);
    await lm.reloadWeights(tuned.weights);
    const [after] = await lm.scoreTokens([ids]);
    expect(Array.from(after)).not.toEqual(Array.from(before));
    await lm.reloadWeights(base.weights);
    expect(Array.from((await lm.scoreTokens([ids]))[0])).toEqual(Array.from(before));
    const other = await openTinyModel({ architecture: 'mistral', hiddenSize: 32 });
    await expect(lm.reloadWeights(other.weights)).rejects.toThrow(/model.embed_tokens.weight has shape \[\d+,32\], config.json implies \[\d+,64\]/);
  });

  test('token ids outside the vocabulary and over-long sequences are refused (before any work); cancel stops scoring', async () => {
    const m = await openTinyModel({ architecture: 'qwen2' });
    const lm = await CpuCausalLM.load(m.config, m.weights);
    await expect(lm.scoreTokens([Int32Array.of(1, m.config.vocabSize)])).rejects.toThrow(`token id ${m.config.vocabSize} at position 1 is outside the vocabulary`);
    await expect(lm.scoreTokens([new Int32Array(m.config.maxPositionEmbeddings + 2)])).rejects.toThrow(InputError);
    const windowed = await CpuCausalLM.load({ ...m.config, slidingWindow: 8 }, m.weights);
    await expect(windowed.scoreTokens([new Int32Array(10)])).rejects.toThrow('more than the model\'s sliding attention window of 8');
    const controller = new AbortController();
    controller.abort();
    await expect(lm.scoreTokens([Int32Array.of(1, 2, 3)], { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});
