/**
 * Seeded weights for a model of any shape, made on demand and never stored: a WeightSource whose
 * tensors are computed from (seed, tensor name, element index) each time they are read, so a 0.5 B or
 * 1.5 B model costs no memory until a runtime loads it, and the CPU and GPU runtimes read the very same
 * values. Every value is k/128 · 2^e for an integer k in [−128, 127] (norms 1 + m/128): exactly representable in BF16 and F16, so
 * `streamBytes` (the checkpoint dtype's bytes) and `readF32` agree bit for bit.
 *
 * Scales keep a deep random model numerically sane: matrices ~ 1/√(fan-in), norms 1 ± 7/128, small
 * biases, and an embedding large enough (~2/√hidden) that a tied LM head gives logits of spread ~1.
 */
import { encodeFromF32 } from '../src/formats/floatArrays';
import type { ModelConfig, WeightSource } from '../src/model/types';
import { modelTensors, type TensorRole } from '../src/model/weights';

/** 32-bit hash of (seed, name): a stream id per tensor. */
function hashName(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** An integer in [−128, 127] from (stream, index): a short multiply-xorshift hash, cheap and well mixed. */
function mixed(stream: number, i: number): number {
  let x = Math.imul(i ^ stream, 0x9e3779b1);
  x = Math.imul(x ^ (x >>> 15), 0x85ebca6b);
  x ^= x >>> 13;
  return (x >>> 24) - 128;
}

/** A power of two near `s` (so k/128 · scale stays exact in 16 bits). */
const pow2 = (s: number): number => 2 ** Math.round(Math.log2(s));

/** The 256 values a tensor of `role` draws from, indexed by k + 128. */
function valueTable(role: TensorRole, shape: readonly number[], c: ModelConfig): Float32Array {
  const table = new Float32Array(256);
  for (let k = -128; k < 128; k++) {
    // Norms: 1 + m/128 for m in [−8, 7] (BF16 resolves 1/128 next to 1).
    if (role === 'norm') table[k + 128] = 1 + Math.trunc(k / 16) / 128;
    else {
      const scale = role === 'bias' ? pow2(0.02) : role === 'embedding' ? pow2(2 / Math.sqrt(c.hiddenSize)) : pow2(1.5 / Math.sqrt(shape[shape.length - 1]));
      table[k + 128] = (k / 128) * scale;
    }
  }
  return table;
}

/** Generated weights for `config` in `dtype` (the dtype the source reports and streams). */
export function generatedWeightSource(config: ModelConfig, seed: number, dtype: 'BF16' | 'F16' = 'BF16'): WeightSource {
  const tensors = new Map(modelTensors(config).map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new RangeError(`generated weights: no tensor ${name}`);
    return t;
  };
  const numel = (name: string) => get(name).shape.reduce((a, b) => a * b, 1);
  const tables = new Map<string, { values: Float32Array; bits: Uint16Array; stream: number }>();
  const tableOf = (name: string) => {
    let t = tables.get(name);
    if (!t) {
      const info = get(name);
      const values = valueTable(info.role, info.shape, config);
      const encoded = encodeFromF32(dtype, values);
      t = { values, bits: new Uint16Array(encoded.buffer, encoded.byteOffset, 256).slice(), stream: hashName(seed, name) };
      tables.set(name, t);
    }
    return t;
  };
  const fill = (name: string, from: number, out: Float32Array): Float32Array => {
    const { values, stream } = tableOf(name);
    for (let i = 0; i < out.length; i++) out[i] = values[mixed(stream, from + i) + 128];
    return out;
  };
  /** The same values as the dtype's bits, little-endian (the table was encoded once). */
  const fillBits = (name: string, from: number, count: number): Uint8Array => {
    const { bits, stream } = tableOf(name);
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = bits[mixed(stream, from + i) + 128];
    return new Uint8Array(out.buffer);
  };
  const PIECE = 1 << 22;
  return {
    names: () => [...tensors.keys()],
    shape: (name) => [...get(name).shape],
    dtype: () => dtype,
    readF32: async (name) => fill(name, 0, new Float32Array(numel(name))),
    async *streamF32(name) {
      const n = numel(name);
      for (let at = 0; at < n; at += PIECE) yield fill(name, at, new Float32Array(Math.min(PIECE, n - at)));
    },
    async *streamBytes(name) {
      const n = numel(name);
      for (let at = 0; at < n; at += PIECE) yield fillBits(name, at, Math.min(PIECE, n - at));
    },
  };
}
