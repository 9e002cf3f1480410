/**
 * The model's weights resident on the GPU, keyed by Hugging Face tensor name, each in its checkpoint
 * dtype (F16/BF16 take half the memory of f32; the kernels decode them). A tensor larger than one
 * storage binding (the embedding or LM head of a large vocabulary) is cut by rows into parts that
 * each fit one, every part starting on a 4-byte boundary; the kernels run once per part.
 */
import { encodeFromF32 } from '../../formats/floatArrays';
import type { WeightDtype } from './modelShaders';

export const WEIGHT_DTYPE_BYTES: Record<WeightDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Rows firstRow … firstRow + rows − 1 of a tensor, in one GPU buffer. */
export interface WeightPart {
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
  /** Bytes of the part's data (the buffer may be up to 3 bytes longer, padded to a whole word). */
  byteLength: number;
}

export interface ResidentWeight {
  readonly name: string;
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
  /** Elements per row: the last dimension (a 1-D tensor is one row). */
  readonly rowLength: number;
  readonly parts: readonly WeightPart[];
}

/** How a tensor is cut: row ranges each of at most maxBytes, starting at 4-byte boundaries. */
export function planWeightParts(shape: readonly number[], dtype: WeightDtype, maxBytes: number): { firstRow: number; rows: number }[] | { error: string } {
  const rowLength = shape.length === 0 ? 1 : shape.length === 1 ? shape[0] : shape[shape.length - 1];
  const rows = shape.length <= 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const rowBytes = rowLength * WEIGHT_DTYPE_BYTES[dtype];
  if (rows * rowBytes <= maxBytes) return [{ firstRow: 0, rows }];
  // A part of an odd number of 2-byte rows of odd length would leave the next one mid-word.
  const step = rowBytes % 4 === 0 ? 1 : 2;
  const perPart = Math.floor(maxBytes / rowBytes / step) * step;
  if (perPart < 1) return { error: `a row of ${rowBytes} bytes is larger than one GPU binding of ${maxBytes} bytes` };
  const parts: { firstRow: number; rows: number }[] = [];
  for (let r = 0; r < rows; r += perPart) parts.push({ firstRow: r, rows: Math.min(perPart, rows - r) });
  return parts;
}

/** Bytes a tensor takes on the GPU (its parts padded to whole words). */
export function residentBytes(shape: readonly number[], dtype: WeightDtype, maxBytes: number): number {
  const plan = planWeightParts(shape, dtype, maxBytes);
  if ('error' in plan) return shape.reduce((a, b) => a * b, 1) * WEIGHT_DTYPE_BYTES[dtype];
  const rowLength = shape.length <= 1 ? shape.reduce((a, b) => a * b, 1) : shape[shape.length - 1];
  return plan.reduce((sum, p) => sum + Math.ceil((p.rows * rowLength * WEIGHT_DTYPE_BYTES[dtype]) / 4) * 4, 0);
}

/** Allocates the buffers of one tensor (contents undefined until written). */
export function allocateWeight(device: GPUDevice, name: string, shape: readonly number[], dtype: WeightDtype, maxBytes: number): ResidentWeight {
  const plan = planWeightParts(shape, dtype, maxBytes);
  if ('error' in plan) throw new RangeError(`${name}: ${plan.error}`);
  const rowLength = shape.length <= 1 ? shape.reduce((a, b) => a * b, 1) : shape[shape.length - 1];
  const parts = plan.map((p, i) => {
    const byteLength = p.rows * rowLength * WEIGHT_DTYPE_BYTES[dtype];
    const buffer = device.createBuffer({
      label: plan.length > 1 ? `${name} [part ${i + 1}/${plan.length}]` : name,
      size: Math.max(4, Math.ceil(byteLength / 4) * 4),
      // COPY_SRC and COPY_DST: the search may copy a soup in or read a tensor out.
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    return { buffer, firstRow: p.firstRow, rows: p.rows, byteLength };
  });
  return { name, dtype, shape: [...shape], rowLength, parts };
}

/** Writes f32 values into a resident tensor, encoded to its dtype (exact when they came from it). */
export function writeWeight(device: GPUDevice, w: ResidentWeight, values: Float32Array): void {
  const numel = w.shape.reduce((a, b) => a * b, 1);
  if (values.length !== numel) throw new RangeError(`${w.name}: ${values.length} values for a tensor of ${numel}`);
  for (const part of w.parts) {
    const slice = values.subarray(part.firstRow * w.rowLength, (part.firstRow + part.rows) * w.rowLength);
    writePadded(device, part.buffer, 0, encodeFromF32(w.dtype, slice));
  }
}

/**
 * Writes a tensor's bytes, as stored in its dtype and streamed in pieces of any size, into its parts:
 * 16-bit weights go to the GPU without a decoded f32 copy anywhere. Writes stay on 4-byte boundaries
 * (a piece's odd tail waits for the next piece); a part's last word is zero-padded. Resolves once every
 * piece is written; `total` bytes must arrive, no more.
 */
export async function writeWeightBytes(
  device: GPUDevice,
  w: ResidentWeight,
  pieces: AsyncIterable<Uint8Array>,
  /** Runs each piece's (synchronous) writes: the caller's error scope. */
  guard: (writes: () => void) => void = (writes) => writes(),
): Promise<void> {
  const expected = w.parts.reduce((sum, p) => sum + p.byteLength, 0);
  let part = 0;
  let inPart = 0;
  let received = 0;
  let carry = new Uint8Array(0);
  for await (const piece of pieces) {
    received += piece.length;
    if (received > expected) throw new RangeError(`${w.name}: more than its ${expected} bytes`);
    let data = piece;
    if (carry.length > 0) {
      data = new Uint8Array(carry.length + piece.length);
      data.set(carry);
      data.set(piece, carry.length);
    }
    let at = 0;
    guard(() => {
      while (part < w.parts.length && at < data.length) {
        const p = w.parts[part];
        const room = p.byteLength - inPart;
        const available = data.length - at;
        // Within a part only whole words are written; the part's end may end mid-word (padded).
        const take = available >= room ? room : available & ~3;
        if (take === 0) break;
        writePadded(device, p.buffer, inPart, data.subarray(at, at + take));
        at += take;
        inPart += take;
        if (inPart === p.byteLength) {
          part++;
          inPart = 0;
        }
      }
    });
    carry = data.slice(at);
  }
  if (received !== expected) throw new RangeError(`${w.name}: ${received} bytes for a tensor of ${expected}`);
}

/** writeBuffer of `bytes` at a 4-byte-aligned offset, the last partial word zero-padded (sizes must be whole words). */
export function writePadded(device: GPUDevice, buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
  const whole = bytes.byteLength & ~3;
  if (whole > 0) device.queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>, 0, whole);
  if (whole < bytes.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(whole));
    device.queue.writeBuffer(buffer, offset + whole, tail);
  }
}
