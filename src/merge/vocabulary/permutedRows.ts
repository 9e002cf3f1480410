/**
 * A model's embedding or LM-head tensor with its rows in the merged vocabulary's order, as a virtual
 * tensor: a CheckpointTensor whose bytes are assembled on read from the model's own rows (runs of
 * consecutive rows read at once), the fallback rows of the tokens it lacks (read from the other models
 * and averaged in f64 when first needed, kept for the other models up to a bound, rounded once to its dtype) and the padding rows (the mean of its
 * rows of real tokens, by one pass over them when first needed). Every method and backend reads it as
 * it reads a file's tensor, chunk by chunk: nothing but the fallback and padding rows is held.
 */
import type { CheckpointTensor } from '../../formats/checkpoint';
import { numelOf, type FloatDtype } from '../../formats/dtype';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../../formats/floatArrays';
import { checkRange } from '../../formats/memorySource';
import type { ByteSource } from '../../formats/types';
import type { AlignedVocabulary, FallbackRow } from './alignVocabulary';

/** One tensor name (model.embed_tokens.weight, lm_head.weight) across the members: their own tensors, where they have one. */
export interface RowTable {
  name: string;
  originals: (CheckpointTensor | undefined)[];
  aligned: AlignedVocabulary;
  /** Fallback rows in f64 already read, shared by every member's virtual tensor (up to FALLBACK_CACHE_BYTES). */
  fallbackCache?: Map<number, Promise<Float64Array>>;
  fallbackCacheBytes?: number;
}

/**
 * What the fallback rows of one tensor may hold in memory. Models with mostly different vocabularies
 * lack many tokens each; past this, a fallback row is read again when another model needs it.
 */
const FALLBACK_CACHE_BYTES = 64 << 20;

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
  let padRow: Promise<Uint8Array> | undefined;
  const name = `${orig.source.name} (${table.name} in the merged vocabulary)`;

  const fallbackRow = async (id: number): Promise<Uint8Array | undefined> => {
    const values = await fallbackValues(table, id, rowElems);
    return values && encodeRow(dtype, values);
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

/** The fallback row of output token `id` in f64 (undefined for a hole in the vocabulary), from the cache or read. */
function fallbackValues(table: RowTable, id: number, rowElems: number): Promise<Float64Array> | undefined {
  const fb = table.aligned.fallbacks.get(id);
  if (!fb) return undefined;
  const cache = (table.fallbackCache ??= new Map());
  const cached = cache.get(id);
  if (cached) return cached;
  const values = readFallback(table, fb, rowElems);
  if ((table.fallbackCacheBytes ?? 0) + rowElems * 8 <= FALLBACK_CACHE_BYTES) {
    cache.set(id, values);
    table.fallbackCacheBytes = (table.fallbackCacheBytes ?? 0) + rowElems * 8;
  }
  return values;
}

/** One fallback row: each named row read from its member, averaged in f64 (zeros for a zero source). */
async function readFallback(table: RowTable, fb: FallbackRow, rowElems: number): Promise<Float64Array> {
  const sum = new Float64Array(rowElems);
  if (fb.kind === 'zero') return sum;
  for (const { member, row } of fb.from) {
    const t = table.originals[member];
    if (!t) throw new Error(`permutedRows: member ${member} has no ${table.name}`);
    const d = t.info.dtype as FloatDtype;
    const w = numelOf(t.info.shape.slice(1)) * FLOAT_BYTES[d];
    const values = decodeRow(d, await t.source.read(t.info.byteOffset + row * w, w));
    for (let i = 0; i < rowElems; i++) sum[i] += values[i];
  }
  if (fb.from.length > 1) for (let i = 0; i < rowElems; i++) sum[i] /= fb.from.length;
  return sum;
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
