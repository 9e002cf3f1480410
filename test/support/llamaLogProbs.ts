/** llama.cpp (node-llama-cpp) as a referee of log-probs: the largest gap to ours over a token sequence. */
import type { LlamaModel, Token } from 'node-llama-cpp';

/**
 * max over t of |log p_llama(ids[t+1] | ids[..t]) − expected[t]|, with an f32 KV cache (the tests'
 * tolerance of 2·10⁻⁴ is llama.cpp's f32 arithmetic against SoupLab's).
 */
export async function maxLogProbGap(model: LlamaModel, ids: readonly number[], expected: ArrayLike<number>): Promise<number> {
  const context = await model.createContext({ contextSize: 128, threads: 2, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
  try {
    const tokens = ids as unknown as readonly Token[];
    const evaluated = await context.getSequence().controlledEvaluate(tokens.map((t) => [t, { generateNext: { probabilities: true } }]));
    let maxAbs = 0;
    for (let t = 0; t + 1 < tokens.length; t++) {
      const p = evaluated[t]?.next?.probabilities?.get(tokens[t + 1]) ?? 0;
      maxAbs = Math.max(maxAbs, Math.abs(Math.log(p) - expected[t]));
    }
    return maxAbs;
  } finally {
    await context.dispose();
  }
}
