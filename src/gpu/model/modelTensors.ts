/**
 * The Hugging Face tensors a Llama-family decoder has, with the shapes its config implies: what the
 * GPU model uploads and checks a WeightSource against (extra tensors in a checkpoint are ignored).
 */
import type { ModelConfig } from '../../model/types';

export function modelTensorShapes(c: ModelConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    m.set(`${p}input_layernorm.weight`, [H]);
    m.set(`${p}self_attn.q_proj.weight`, [qDim, H]);
    m.set(`${p}self_attn.k_proj.weight`, [kvDim, H]);
    m.set(`${p}self_attn.v_proj.weight`, [kvDim, H]);
    if (c.attentionBias) {
      m.set(`${p}self_attn.q_proj.bias`, [qDim]);
      m.set(`${p}self_attn.k_proj.bias`, [kvDim]);
      m.set(`${p}self_attn.v_proj.bias`, [kvDim]);
    }
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}self_attn.o_proj.weight`, [H, qDim]);
    m.set(`${p}post_attention_layernorm.weight`, [H]);
    m.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.down_proj.weight`, [H, c.intermediateSize]);
  }
  m.set('model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}
