/**
 * The merged weight of one LoRA-adapted tensor, a block of stored rows at a time (the CPU form; PEFT's
 * get_delta_weight and DoRA's merge_safe):
 *
 *   W' = W + s·B·A                        (B [out, r], A [r, in], W [out, in])
 *   W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖    (DoRA: m and the norm per output feature, a row of [out, in])
 *
 * With fan_in_fan_out the base stores W transposed ([in, out]): a stored row is an input feature and
 * DoRA's norms run down the stored columns, so they are computed once over the whole tensor first.
 * Everything is accumulated in f64 and rounded to f32 once.
 *
 * This is the CPU twin of shaders/merge/loraRows.wgsl (driven by src/merge/gpu/loraRowsGpu.ts): a merge
 * on the WebGPU backend computes the rows there (LoraRowsComputer), within 1 ulp of these.
 */

export interface LoraFactors {
  /** A, row-major [r, in]. */
  a: Float64Array;
  /** B, row-major [out, r]. */
  b: Float64Array;
  r: number;
  outFeatures: number;
  inFeatures: number;
  scale: number;
  fanInFanOut: boolean;
  /** DoRA's magnitude vector, one per output feature. */
  magnitude?: Float64Array;
}

/** The stored tensor's [rows, columns]: [out, in], or [in, out] with fan_in_fan_out. */
export function storedShape(f: LoraFactors): [number, number] {
  return f.fanInFanOut ? [f.inFeatures, f.outFeatures] : [f.outFeatures, f.inFeatures];
}

/** W + s·B·A for stored rows [row0, row0 + rows), in f64; `w` holds those rows of the base. */
function addDelta(f: LoraFactors, w: ArrayLike<number>, row0: number, rows: number): Float64Array {
  const [, cols] = storedShape(f);
  const { a, b, r, scale, inFeatures } = f;
  const out = new Float64Array(rows * cols);
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const row = row0 + i;
    acc.fill(0);
    if (!f.fanInFanOut) {
      // Row `row` is output feature `row`: Σ_k B[row, k] · A[k, :].
      for (let k = 0; k < r; k++) {
        const bk = b[row * r + k];
        if (bk === 0) continue;
        const aRow = k * inFeatures;
        for (let j = 0; j < cols; j++) acc[j] += bk * a[aRow + j];
      }
    } else {
      // Row `row` is input feature `row`: column c is output feature c, Σ_k B[c, k] · A[k, row].
      for (let k = 0; k < r; k++) {
        const ak = a[k * inFeatures + row];
        if (ak === 0) continue;
        for (let c = 0; c < cols; c++) acc[c] += b[c * r + k] * ak;
      }
    }
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[base + j] = w[base + j] + scale * acc[j];
  }
  return out;
}

/**
 * DoRA's norms ‖W + s·B·A‖ per output feature, over the whole tensor: needed up front only with
 * fan_in_fan_out (otherwise each row carries its own). `readRows` gives the base's stored rows.
 */
export async function doraColumnNorms(f: LoraFactors, readRows: (row0: number, rows: number) => Promise<ArrayLike<number>>, blockRows: number): Promise<Float64Array> {
  const [rowsTotal, cols] = storedShape(f);
  const sq = new Float64Array(cols);
  for (let row0 = 0; row0 < rowsTotal; row0 += blockRows) {
    const rows = Math.min(blockRows, rowsTotal - row0);
    const v = addDelta(f, await readRows(row0, rows), row0, rows);
    for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) sq[c] += v[i * cols + c] ** 2;
  }
  return sq.map(Math.sqrt);
}

/**
 * The merged stored rows [row0, row0 + rows) as f32. With DoRA and fan_in_fan_out, `columnNorms` is
 * doraColumnNorms' result.
 */
export function mergeLoraRows(f: LoraFactors, w: ArrayLike<number>, row0: number, rows: number, columnNorms?: Float64Array): Float32Array {
  const [, cols] = storedShape(f);
  const v = addDelta(f, w, row0, rows);
  const m = f.magnitude;
  if (m) {
    if (f.fanInFanOut) {
      if (!columnNorms) throw new Error('mergeLoraRows: DoRA with fan_in_fan_out needs the column norms');
      for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) v[i * cols + c] *= m[c] / columnNorms[c];
    } else {
      for (let i = 0; i < rows; i++) {
        let sq = 0;
        for (let j = 0; j < cols; j++) sq += v[i * cols + j] ** 2;
        const factor = m[row0 + i] / Math.sqrt(sq);
        for (let j = 0; j < cols; j++) v[i * cols + j] *= factor;
      }
    }
  }
  return Float32Array.from(v);
}

/** Computes adapted rows: the CPU (below), or a merge backend's GPU (src/merge/gpu/loraRowsGpu.ts). */
export interface LoraRowsComputer {
  /** Names the computer in cache keys. */
  readonly name: string;
  /** mergeLoraRows' result. */
  mergeRows(f: LoraFactors, w: ArrayLike<number>, row0: number, rows: number, columnNorms?: Float64Array): Promise<Float32Array>;
  /** doraColumnNorms' result. */
  columnNorms(f: LoraFactors, readRows: (row0: number, rows: number) => Promise<ArrayLike<number>>, blockRows: number): Promise<Float64Array>;
}

export const cpuLoraRows: LoraRowsComputer = {
  name: 'cpu',
  mergeRows: (f, w, row0, rows, columnNorms) => Promise.resolve(mergeLoraRows(f, w, row0, rows, columnNorms)),
  columnNorms: doraColumnNorms,
};
