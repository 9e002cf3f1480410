import { describe, expect, test } from 'vitest';
import { parseModelConfig } from '../../src/model/config';
import { InputError } from '../../src/errors';

const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 300,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  bos_token_id: 1,
  eos_token_id: [2, 3],
};

describe('parseModelConfig', () => {
  test('Llama 3: GQA, head size from hidden/heads, llama3 rope scaling, the first of several eos ids', () => {
    const c = parseModelConfig(JSON.stringify(LLAMA));
    expect(c).toMatchObject({ architecture: 'llama', headDim: 16, numKvHeads: 2, ropeTheta: 500000, eosTokenId: 2, tieWordEmbeddings: false, attentionBias: false, qkNorm: false });
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });

  test('Qwen2 has q/k/v biases, Qwen3 q/k norms and its own head_dim', () => {
    expect(parseModelConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], rope_scaling: null }).attentionBias).toBe(true);
    const q3 = parseModelConfig({ ...LLAMA, architectures: ['Qwen3ForCausalLM'], rope_scaling: null, head_dim: 128, tie_word_embeddings: true });
    expect(q3).toMatchObject({ architecture: 'qwen3', qkNorm: true, headDim: 128, tieWordEmbeddings: true, attentionBias: false });
  });

  test.each([
    [{ architectures: ['GPT2LMHeadModel'] }, 'config.json: architecture GPT2LMHeadModel is not supported; SoupLab runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM'],
    [{ architectures: undefined }, 'config.json: no "architectures" entry; SoupLab runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM'],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'config.json: rope_scaling type "yarn" is not supported; SoupLab supports Llama 3\'s "llama3" scaling'],
    [{ hidden_act: 'gelu' }, 'config.json: hidden_act "gelu" is not supported; LlamaForCausalLM models use silu (SwiGLU)'],
    [{ num_key_value_heads: 3 }, 'config.json: num_attention_heads (4) is not a multiple of num_key_value_heads (3)'],
    [{ hidden_size: undefined }, 'config.json: "hidden_size" is missing'],
    [{ attention_bias: true }, 'config.json: attention_bias: true is not supported for LlamaForCausalLM (only Qwen2\'s q/k/v biases are)'],
  ])('refused in one line: %j', (change, message) => {
    const run = () => parseModelConfig({ ...LLAMA, ...change });
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
  });

  test('a sliding window: Mistral always, Qwen only with use_sliding_window', () => {
    expect(parseModelConfig({ ...LLAMA, architectures: ['MistralForCausalLM'], rope_scaling: null, sliding_window: 4096 }).slidingWindow).toBe(4096);
    expect(parseModelConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], rope_scaling: null, sliding_window: 4096 }).slidingWindow).toBeNull();
    expect(parseModelConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], rope_scaling: null, sliding_window: 64, use_sliding_window: true }).slidingWindow).toBe(64);
  });

  test('not JSON', () => {
    expect(() => parseModelConfig('{"architectures": [', 'm/config.json')).toThrow(/^m\/config.json: not valid JSON/);
  });
});
