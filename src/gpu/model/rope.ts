/**
 * RoPE inverse frequencies as Hugging Face computes them (f32): inv_freq[i] = 1 / θ^(2i/d), and with
 * Llama 3 `rope_scaling` rescaled by wavelength band (transformers' _compute_llama3_parameters):
 * long wavelengths divided by `factor`, short ones kept, the band between interpolated smoothly.
 */
import type { ModelConfig } from '../../model/types';

export function ropeInverseFrequencies(c: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = c.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, Math.fround((2 * i) / c.headDim));
  const s = c.ropeScaling;
  if (!s) return inv;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowWavelen) inv[i] = inv[i] / s.factor;
    else if (wavelen >= highWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}
