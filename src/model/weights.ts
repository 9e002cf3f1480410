/**
 * The tensors a model of a given config has (Hugging Face names and shapes), a WeightSource over an opened
 * checkpoint, and the check that a source holds exactly what the config needs.
 */
import { InputError, throwIfAborted } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import { decodeToF32, FLOAT_BYTES } from '../formats/floatArrays';
import { numelOf } from '../formats/dtype';
import { readTensorChunks } from '../formats/tensorChunks';
import type { ModelConfig, WeightSource } from './types';

/** What a tensor is: it decides how a generator fills it and how GGUF stores it. */
export type TensorRole = 'embedding' | 'matrix' | 'bias' | 'norm';

export interface ModelTensor {
  name: string;
  shape: number[];
  role: TensorRole;
}

/** Names of one decoder layer's tensors. */
export function layerTensorNames(layer: number) {
  const p = `model.layers.${layer}.`;
  return {
    inputNorm: `${p}input_layernorm.weight`,
    q: `${p}self_attn.q_proj.weight`,
    k: `${p}self_attn.k_proj.weight`,
    v: `${p}self_attn.v_proj.weight`,
    qBias: `${p}self_attn.q_proj.bias`,
    kBias: `${p}self_attn.k_proj.bias`,
    vBias: `${p}self_attn.v_proj.bias`,
    qNorm: `${p}self_attn.q_norm.weight`,
    kNorm: `${p}self_attn.k_norm.weight`,
    o: `${p}self_attn.o_proj.weight`,
    postNorm: `${p}post_attention_layernorm.weight`,
    gate: `${p}mlp.gate_proj.weight`,
    up: `${p}mlp.up_proj.weight`,
    down: `${p}mlp.down_proj.weight`,
  };
}

export const EMBED_TOKENS = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** Every tensor the config needs, in the order transformers saves them. */
export function modelTensors(c: ModelConfig): ModelTensor[] {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: ModelTensor[] = [{ name: EMBED_TOKENS, shape: [c.vocabSize, c.hiddenSize], role: 'embedding' }];
  for (let l = 0; l < c.numLayers; l++) {
    const n = layerTensorNames(l);
    out.push({ name: n.inputNorm, shape: [c.hiddenSize], role: 'norm' });
    out.push({ name: n.q, shape: [q, c.hiddenSize], role: 'matrix' });
    if (c.attentionBias) out.push({ name: n.qBias, shape: [q], role: 'bias' });
    out.push({ name: n.k, shape: [kv, c.hiddenSize], role: 'matrix' });
    if (c.attentionBias) out.push({ name: n.kBias, shape: [kv], role: 'bias' });
    out.push({ name: n.v, shape: [kv, c.hiddenSize], role: 'matrix' });
    if (c.attentionBias) out.push({ name: n.vBias, shape: [kv], role: 'bias' });
    if (c.qkNorm) {
      out.push({ name: n.qNorm, shape: [c.headDim], role: 'norm' }, { name: n.kNorm, shape: [c.headDim], role: 'norm' });
    }
    out.push(
      { name: n.o, shape: [c.hiddenSize, q], role: 'matrix' },
      { name: n.postNorm, shape: [c.hiddenSize], role: 'norm' },
      { name: n.gate, shape: [c.intermediateSize, c.hiddenSize], role: 'matrix' },
      { name: n.up, shape: [c.intermediateSize, c.hiddenSize], role: 'matrix' },
      { name: n.down, shape: [c.hiddenSize, c.intermediateSize], role: 'matrix' },
    );
  }
  out.push({ name: FINAL_NORM, shape: [c.hiddenSize], role: 'norm' });
  if (!c.tieWordEmbeddings) out.push({ name: LM_HEAD, shape: [c.vocabSize, c.hiddenSize], role: 'matrix' });
  return out;
}

/**
 * Checks that `source` has every tensor the config needs, with the right shape. Extra tensors are allowed
 * only where checkpoints carry them harmlessly (rotary caches; a redundant lm_head next to tied embeddings).
 */
export function checkWeights(c: ModelConfig, source: WeightSource, name: string): void {
  const have = new Set(source.names());
  const needed = modelTensors(c);
  for (const t of needed) {
    if (!have.has(t.name)) {
      throw new InputError(`${name}: tensor ${t.name} is missing; ${c.hfArchitecture} with this config.json needs ${needed.length} tensors`);
    }
    const shape = source.shape(t.name);
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new InputError(`${name}: tensor ${t.name} has shape ${JSON.stringify(shape)}, config.json implies ${JSON.stringify(t.shape)}`);
    }
  }
  const known = new Set(needed.map((t) => t.name));
  for (const n of have) {
    if (known.has(n) || n.endsWith('.rotary_emb.inv_freq') || (n === LM_HEAD && c.tieWordEmbeddings)) continue;
    throw new InputError(`${name}: tensor ${n} is not part of a ${c.hfArchitecture} with this config.json (SoupLab would ignore it and compute something else)`);
  }
}

const CHUNK_BYTES = 8 << 20;

/** A WeightSource over an opened safetensors checkpoint: F32/F16/BF16 tensors decoded to f32 in chunks. */
export function checkpointWeightSource(checkpoint: Checkpoint): WeightSource {
  const get = (name: string) => {
    const t = checkpoint.tensors.get(name);
    if (!t) throw new InputError(`${checkpoint.name}: no tensor ${name}`);
    return t;
  };
  const dtype = (name: string): 'F32' | 'F16' | 'BF16' => {
    const d = get(name).info.dtype;
    if (d !== 'F32' && d !== 'F16' && d !== 'BF16') {
      throw new InputError(`${checkpoint.name}: tensor ${name} is ${d}; the model runtime reads F32, F16 and BF16 weights`);
    }
    return d;
  };
  return {
    names: () => [...checkpoint.tensors.keys()],
    shape: (name) => [...get(name).info.shape],
    dtype,
    async readF32(name, signal) {
      const t = get(name);
      const d = dtype(name);
      const out = new Float32Array(numelOf(t.info.shape));
      let at = 0;
      for await (const chunk of readTensorChunks(t, { chunkBytes: CHUNK_BYTES, signal })) {
        decodeToF32(d, chunk, out.subarray(at));
        at += chunk.length / FLOAT_BYTES[d];
      }
      throwIfAborted(signal);
      return out;
    },
    async *streamF32(name, signal) {
      const d = dtype(name);
      for await (const chunk of readTensorChunks(get(name), { chunkBytes: CHUNK_BYTES, signal })) yield decodeToF32(d, chunk);
    },
    async *streamBytes(name, signal) {
      dtype(name);
      yield* readTensorChunks(get(name), { chunkBytes: CHUNK_BYTES, signal });
    },
  };
}
