/**
 * Test models, written by a tiny safetensors writer of its own (independent of src/formats/writer.ts),
 * and an independent reference of the merge arithmetic: f32 accumulation in ingredient order, one
 * rounding to the output dtype, using the bit codecs of src/formats/floatCodecs.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bf16ToF32Bits, bitsToF32, f16ToF32Bits, f32BitsToBf16, f32BitsToF16, f32ToBits } from '../../src/formats/floatCodecs';
import { seededUniform as rng } from '../../src/util/random';
export { rng };

export type TestDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface TestTensor {
  name: string;
  dtype: TestDtype;
  shape: number[];
  /** Little-endian bytes. */
  data: Uint8Array;
}

const WIDTH: Record<TestDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);


/** Encodes f32 values (JS numbers, rounded to f32 first) as a float dtype. */
export function encodeFloats(dtype: 'F64' | 'F32' | 'F16' | 'BF16', values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * WIDTH[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (dtype === 'F64') view.setFloat64(i * 8, v, true);
    else if (dtype === 'F32') view.setFloat32(i * 4, v, true);
    else if (dtype === 'BF16') view.setUint16(i * 2, f32BitsToBf16(f32ToBits(v)), true);
    else view.setUint16(i * 2, f32BitsToF16(f32ToBits(v)), true);
  }
  return out;
}

/** Decodes a float dtype to f32 values (F64 rounded to nearest f32, as the merge does). */
export function decodeFloats(dtype: string, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = WIDTH[dtype as TestDtype];
  const n = bytes.length / w;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'BF16') out[i] = bitsToF32(bf16ToF32Bits(view.getUint16(i * 2, true)));
    else if (dtype === 'F16') out[i] = bitsToF32(f16ToF32Bits(view.getUint16(i * 2, true)));
    else throw new Error(`not a float dtype: ${dtype}`);
  }
  return out;
}

/** A random float tensor: normal-ish values around `scale`, optionally with special values mixed in. */
export function randomTensor(name: string, dtype: 'F64' | 'F32' | 'F16' | 'BF16', shape: number[], seed: number, opts: { specials?: boolean; scale?: number } = {}): TestTensor {
  const r = rng(seed);
  const n = numel(shape);
  const values = new Float64Array(n);
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e-39, 65504, 1e-7];
  for (let i = 0; i < n; i++) {
    if (opts.specials && r() < 0.02) values[i] = specials[Math.floor(r() * specials.length)];
    else values[i] = (r() + r() + r() - 1.5) * (opts.scale ?? 1);
  }
  return { name, dtype, shape, data: encodeFloats(dtype, values) };
}

export function int64Tensor(name: string, shape: number[], values: bigint[]): TestTensor {
  const out = new Uint8Array(numel(shape) * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return { name, dtype: 'I64', shape, data: out };
}

/** safetensors bytes: the 8-byte length, a JSON header in the given order (not padded), the data. */
export function safetensorsBytes(tensors: TestTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, pos);
    pos += t.data.length;
  }
  return out;
}

/** Writes a model as one file, a folder with model.safetensors, or a sharded folder (`shards` > 1). */
export function writeModel(
  path: string,
  tensors: TestTensor[],
  opts: { layout?: 'file' | 'folder' | 'sharded'; shards?: number; extraFiles?: Record<string, string> } = {},
): string {
  const layout = opts.layout ?? 'file';
  if (layout === 'file') {
    writeFileSync(path, safetensorsBytes(tensors));
    return path;
  }
  mkdirSync(path, { recursive: true });
  for (const [name, content] of Object.entries(opts.extraFiles ?? {})) writeFileSync(join(path, name), content);
  if (layout === 'folder') {
    writeFileSync(join(path, 'model.safetensors'), safetensorsBytes(tensors));
    return path;
  }
  const n = opts.shards ?? 2;
  const per = Math.ceil(tensors.length / n);
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < n; k++) {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(k * per, (k + 1) * per);
    for (const t of part) weightMap[t.name] = file;
    writeFileSync(join(path, file), safetensorsBytes(part));
  }
  writeFileSync(join(path, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return path;
}

/** Reads all tensors of a safetensors file (independently of src/formats). */
export function readSafetensors(bytes: Uint8Array): { metadata: Record<string, string>; tensors: Map<string, TestTensor> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  type Entry = { dtype: TestDtype; shape: number[]; data_offsets: [number, number] };
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const tensors = new Map<string, TestTensor>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const h = value as Entry;
    const [a, b] = h.data_offsets;
    tensors.set(name, { name, dtype: h.dtype, shape: h.shape, data: new Uint8Array(bytes.subarray(8 + n + a, 8 + n + b)) });
  }
  return { metadata: (header.__metadata__ as Record<string, string> | undefined) ?? {}, tensors };
}

const CANON_NAN: Record<string, number> = { F32: 0x7fc00000, BF16: 0x7fc0, F16: 0x7e00 };

/**
 * The merge of one tensor by definition: acc in f32, ingredient order, then one rounding to `outDtype`.
 * `mode` linear: Σ cᵢxᵢ; delta: b + Σ_{i≥1} cᵢ(xᵢ − b).
 */
export function referenceSoup(mode: 'linear' | 'delta', coefficients: number[], inputs: TestTensor[], outDtype: 'F64' | 'F32' | 'F16' | 'BF16'): Uint8Array {
  const xs = inputs.map((t) => decodeFloats(t.dtype, t.data));
  const c = coefficients.map(Math.fround);
  const n = xs[0].length;
  const out = new Uint8Array(n * WIDTH[outDtype]);
  const view = new DataView(out.buffer);
  const fr = Math.fround;
  for (let e = 0; e < n; e++) {
    let acc: number;
    if (mode === 'linear') {
      acc = 0;
      for (let i = 0; i < xs.length; i++) acc = fr(acc + fr(c[i] * xs[i][e]));
    } else {
      const b = xs[0][e];
      acc = b;
      for (let i = 1; i < xs.length; i++) acc = fr(acc + fr(c[i] * fr(xs[i][e] - b)));
    }
    if (outDtype === 'F64') view.setFloat64(e * 8, acc, true);
    else if (outDtype === 'F32') view.setUint32(e * 4, Number.isNaN(acc) ? CANON_NAN.F32 : f32ToBits(acc), true);
    else if (outDtype === 'BF16') view.setUint16(e * 2, Number.isNaN(acc) ? CANON_NAN.BF16 : f32BitsToBf16(f32ToBits(acc)), true);
    else view.setUint16(e * 2, Number.isNaN(acc) ? CANON_NAN.F16 : f32BitsToF16(f32ToBits(acc)), true);
  }
  return out;
}

/** Bytes as hex of the first difference, for readable failures. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs ${b[i]}`;
  return undefined;
}
