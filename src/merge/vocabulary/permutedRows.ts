/**
 * A model's embedding or LM-head tensor with its rows in the merged vocabulary's order, as a virtual
 * tensor: a CheckpointTensor whose bytes are assembled on read from the model's own rows (runs of
 * consecutive rows read at once), the fallback rows of the tokens it lacks (read from the other models
 * and averaged in f64, once per tensor, rounded once to its dtype) and the padding rows (the mean of its
 * rows of real tokens, by one pass over them when first needed). Every method and backend reads it as
 * it reads a file's tensor, chunk by chunk: nothing but the fallback and padding rows is held.
 */
import type { CheckpointTensor } from '../../formats/checkpoint';
import { numelOf, type FloatDtype } from '../../formats/dtype';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../../formats/floatArrays';
import { checkRange } from '../../formats/memorySource';
import type { ByteSource } from '../../formats/types';
import type { AlignedVocabulary } from './alignVocabulary';

/** One tensor name (model.embed_tokens.weight, lm_head.weight) across the members: their own tensors, where they have one. */
export interface RowTable {
  name: string;
  originals: (CheckpointTensor | undefined)[];
  aligned: AlignedVocabulary;
  /** The fallback rows in f64, read once for every member's virtual tensor. */
  fallbackValues?: Promise<Map<number, Float64Array>>;
}

/** Member `m`'s tensor of `table` in the merged vocabulary. */
export function permutedTensor(table: RowTable, m: number): CheckpointTensor {
  const orig = table.originals[m]!;
  const { aligned } = table;
  const dtype = orig.info.dtype as FloatDtype;
  const rowElems = numelOf(orig.info.shape.slice(1));
  const rowBytes = rowElems * FLOAT_BYTES[dtype];
  const size = aligned.rows * rowBytes;
  const perm = aligned.permutations[m];
  const real = aligned.tokens.length;
  const encodedFallbacks = new Map<number, Uint8Array>();
  let padRow: Promise<Uint8Array> | undefined;
  const name = `${orig.source.name} (${table.name} in the merged vocabulary)`;

  const fallbackRow = async (id: number): Promise<Uint8Array | undefined> => {
    let bytes = encodedFallbacks.get(id);
    if (bytes) return bytes;
    table.fallbackValues ??= readFallbacks(table, rowElems);
    const values = (await table.fallbackValues).get(id);
    if (!values) return undefined;
    bytes = encodeRow(dtype, values);
    encodedFallbacks.set(id, bytes);
    return bytes;
  };

  /** Bytes of output rows [a, b), all below `real`. */
  const realRows = async (a: number, b: number, out: Uint8Array, at: number): Promise<void> => {
    let r = a;
    while (r < b) {
      const own = aligned.forced.has(r) ? -1 : perm[r];
      if (own >= 0) {
        // A run of rows that are consecutive rows of the model's own tensor: one read.
        let end = r + 1;
        while (end < b && !aligned.forced.has(end) && perm[end] === own + (end - r)) end++;
        const bytes = await orig.source.read(orig.info.byteOffset + own * rowBytes, (end - r) * rowBytes);
        out.set(bytes, at + (r - a) * rowBytes);
        r = end;
        continue;
      }
      const fb = await fallbackRow(r);
      if (fb) out.set(fb, at + (r - a) * rowBytes); // else a hole in the vocabulary: zeros
      r++;
    }
  };

  const paddingRow = (): Promise<Uint8Array> =>
    (padRow ??= (async () => {
      const sum = new Float64Array(rowElems);
      const step = Math.max(1, Math.floor((8 << 20) / Math.max(1, rowBytes)));
      for (let a = 0; a < real; a += step) {
        const b = Math.min(real, a + step);
        const chunk = new Uint8Array((b - a) * rowBytes);
        await realRows(a, b, chunk, 0);
        const values = decodeRow(dtype, chunk);
        for (let i = 0; i < values.length; i++) sum[i % rowElems] += values[i];
      }
      for (let i = 0; i < rowElems; i++) sum[i] /= Math.max(1, real);
      return encodeRow(dtype, sum);
    })());

  const source: ByteSource = {
    name,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      const first = Math.floor(offset / rowBytes);
      const last = Math.floor((offset + length - 1) / rowBytes) + 1;
      const out = new Uint8Array((last - first) * rowBytes);
      if (first < real) await realRows(first, Math.min(last, real), out, 0);
      if (last > real) {
        const pad = await paddingRow();
        for (let r = Math.max(first, real); r < last; r++) out.set(pad, (r - first) * rowBytes);
      }
      const start = offset - first * rowBytes;
      return out.subarray(start, start + length);
    },
  };
  return {
    info: { name: orig.info.name, dtype, shape: [aligned.rows, ...orig.info.shape.slice(1)], byteOffset: 0, byteLength: size },
    source,
    file: orig.file,
  };
}

/** The fallback rows of the table's tensor: each named row read from its member, averaged in f64. */
async function readFallbacks(table: RowTable, rowElems: number): Promise<Map<number, Float64Array>> {
  const out = new Map<number, Float64Array>();
  for (const [id, fb] of table.aligned.fallbacks) {
    const sum = new Float64Array(rowElems);
    if (fb.kind === 'rows') {
      for (const { member, row } of fb.from) {
        const t = table.originals[member];
        if (!t) throw new Error(`permutedRows: member ${member} has no ${table.name}`);
        const d = t.info.dtype as FloatDtype;
        const w = numelOf(t.info.shape.slice(1)) * FLOAT_BYTES[d];
        const values = decodeRow(d, await t.source.read(t.info.byteOffset + row * w, w));
        for (let i = 0; i < rowElems; i++) sum[i] += values[i];
      }
      if (fb.from.length > 1) for (let i = 0; i < rowElems; i++) sum[i] /= fb.from.length;
    }
    out.set(id, sum);
  }
  return out;
}

function decodeRow(dtype: FloatDtype, bytes: Uint8Array): Float64Array {
  if (dtype === 'F64') return new Float64Array(bytes.slice().buffer);
  return Float64Array.from(decodeToF32(dtype, bytes));
}

/** f64 values as `dtype` (through f32 for the narrower dtypes, as the merge's codecs round). */
function encodeRow(dtype: FloatDtype, values: Float64Array): Uint8Array {
  if (dtype === 'F64') return new Uint8Array(Float64Array.from(values).buffer);
  return encodeFromF32(dtype, Float32Array.from(values));
}
