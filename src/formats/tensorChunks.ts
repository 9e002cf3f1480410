import { throwIfAborted } from '../errors';
import { DTYPE_BITS, type Dtype } from './dtype';
import type { CheckpointTensor } from './checkpoint';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;

/** Smallest whole number of bytes holding whole elements, and a multiple of 4 (GPU copy size). */
export function chunkAlignment(dtype: Dtype): number {
  const bits = DTYPE_BITS[dtype];
  const unit = lcm(bits, 8) / 8;
  return lcm(unit, 4);
}

/**
 * Reads a tensor in pieces of at most `chunkBytes` (rounded down to a multiple of lcm(element size, 4),
 * except the last piece), so a 2 GB embedding never sits in memory whole. The next piece is read while
 * the caller works on the current one: at most two pieces are in memory. `offsetBytes`/`lengthBytes`
 * select a range of the tensor (the offset must be a multiple of the element size).
 */
export async function* readTensorChunks(
  t: CheckpointTensor,
  opts: { chunkBytes: number; signal?: AbortSignal; offsetBytes?: number; lengthBytes?: number },
): AsyncGenerator<Uint8Array> {
  const { info, source } = t;
  const align = chunkAlignment(info.dtype);
  const start = opts.offsetBytes ?? 0;
  const length = opts.lengthBytes ?? info.byteLength - start;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > info.byteLength) {
    throw new RangeError(`${info.name}: range [${start}, ${start + length}) is outside its ${info.byteLength} bytes`);
  }
  if ((start * 8) % DTYPE_BITS[info.dtype] !== 0) {
    throw new RangeError(`${info.name}: offset ${start} is not on an element boundary of ${info.dtype}`);
  }
  if (!(opts.chunkBytes > 0)) throw new RangeError(`chunkBytes must be positive, got ${opts.chunkBytes}`);
  const step = Math.max(align, Math.floor(opts.chunkBytes / align) * align);
  const end = start + length;
  const readAt = (pos: number) => source.read(info.byteOffset + pos, Math.min(step, end - pos));

  throwIfAborted(opts.signal);
  if (length === 0) return;
  let position = start;
  let pending = readAt(position);
  try {
    while (position < end) {
      const chunk = await pending;
      position += chunk.length;
      throwIfAborted(opts.signal);
      pending = position < end ? readAt(position) : Promise.resolve(new Uint8Array(0));
      yield chunk;
    }
  } finally {
    // A prefetch still in flight when the caller stops early must not become an unhandled rejection.
    pending.catch(() => undefined);
  }
}
