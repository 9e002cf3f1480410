/**
 * config.json → ModelConfig. Only what SoupLab's forward pass computes exactly is accepted: anything else
 * (another architecture, another activation, another RoPE scaling) is refused up front, in one line, rather
 * than scored wrongly.
 */
import { InputError } from '../errors';
import { parseJsonObject } from './json';
import type { Architecture, ModelConfig, RopeScaling } from './types';

/** Hugging Face `architectures[0]` → the runtime's architecture. */
export const SUPPORTED_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

const SUPPORTED_LIST = Object.keys(SUPPORTED_ARCHITECTURES).join(', ');

type Json = Record<string, unknown>;

/** Parses config.json's text (or an already-parsed object); `name` names the file in messages. */
export function parseModelConfig(input: string | unknown, name = 'config.json'): ModelConfig {
  const c = parseJsonObject(input, name);
  const fail = (why: string): never => {
    throw new InputError(`${name}: ${why}`);
  };

  const archs = c.architectures;
  const hfArchitecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (hfArchitecture === undefined) {
    fail(`no "architectures" entry; SoupLab runs ${SUPPORTED_LIST}`);
  }
  const architecture = SUPPORTED_ARCHITECTURES[hfArchitecture as string];
  if (architecture === undefined) {
    fail(`architecture ${hfArchitecture} is not supported; SoupLab runs ${SUPPORTED_LIST}`);
  }

  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      return fail(v === undefined ? `"${key}" is missing` : `"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const tokenId = (key: string): number | null => {
    let v = c[key];
    // Llama 3.1 lists several end-of-sequence ids; the first is the one the tokenizer names.
    if (Array.isArray(v)) v = v[0];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return fail(`"${key}" must be a token id, got ${JSON.stringify(c[key])}`);
    return v;
  };

  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (act !== 'silu') fail(`hidden_act "${String(act)}" is not supported; ${hfArchitecture} models use silu (SwiGLU)`);
  if (c.mlp_bias === true) fail('mlp_bias: true is not supported (the MLP projections of supported models have no bias)');
  const attentionBias = architecture === 'qwen2';
  if (c.attention_bias === true && architecture !== 'qwen2') {
    fail(`attention_bias: true is not supported for ${hfArchitecture} (only Qwen2's q/k/v biases are)`);
  }

  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) fail(`num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  if (c.head_dim === undefined || c.head_dim === null) {
    if (hiddenSize % numHeads !== 0) fail(`hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}) and there is no head_dim`);
  }
  const headDim = c.head_dim === undefined || c.head_dim === null ? hiddenSize / numHeads : int('head_dim');
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} is odd; rotary embeddings need an even head size`);

  return {
    architecture,
    hfArchitecture: hfArchitecture as string,
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: parseRopeScaling(c.rope_scaling, fail),
    vocabSize: int('vocab_size'),
    maxPositionEmbeddings: int('max_position_embeddings', 2048),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    attentionBias,
    qkNorm: architecture === 'qwen3',
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
    slidingWindow: slidingWindow(c, architecture),
  };
}

function parseRopeScaling(v: unknown, fail: (why: string) => never): RopeScaling | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return fail(`rope_scaling must be an object or null, got ${JSON.stringify(v)}`);
  const s = v as Json;
  const type = s.rope_type ?? s.type;
  if (type === 'default') return null;
  if (type !== 'llama3') return fail(`rope_scaling type ${JSON.stringify(type)} is not supported; SoupLab supports Llama 3's "llama3" scaling`);
  const pos = (key: string): number => {
    const x = s[key];
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) return fail(`rope_scaling.${key} must be a positive number, got ${JSON.stringify(x)}`);
    return x;
  };
  const scaling: RopeScaling = {
    type: 'llama3',
    factor: pos('factor'),
    lowFreqFactor: pos('low_freq_factor'),
    highFreqFactor: pos('high_freq_factor'),
    originalMaxPositionEmbeddings: pos('original_max_position_embeddings'),
  };
  if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
    fail(`rope_scaling.high_freq_factor (${scaling.highFreqFactor}) must be larger than low_freq_factor (${scaling.lowFreqFactor})`);
  }
  return scaling;
}

/** The window Hugging Face applies: Mistral's sliding_window; Qwen2/3's only with use_sliding_window. */
function slidingWindow(c: Json, architecture: Architecture): number | null {
  const w = c.sliding_window;
  if (typeof w !== 'number' || !Number.isSafeInteger(w) || w <= 0) return null;
  if (architecture === 'mistral') return w;
  if ((architecture === 'qwen2' || architecture === 'qwen3') && c.use_sliding_window === true) return w;
  return null;
}
