/**
 * A tensor's chunks read one ahead for the GPU drivers' passes (tensorStatsGpu.ts, dellaRanksGpu.ts): a read
 * of elements [s, s + c) starts the read of the range that follows it in `plan` — or, without a plan, of
 * [s + c, s + 2c) clipped to the tensor — so the next chunk comes from the file while the GPU uploads,
 * computes and reads back this one. A read of a range that was not foreseen is passed through. The bytes
 * are the source's either way: the results do not change; memory holds one more chunk of every input.
 */
import type { TensorChunkSource } from '../program/tensorStats';

export function prefetchingChunks(source: TensorChunkSource, plan?: readonly { start: number; count: number }[]): TensorChunkSource {
  let ahead: { start: number; count: number; bytes: Promise<Uint8Array[]> } | undefined;
  const planned = new Map(plan?.map((r, i) => [r.start, i]));
  const following = (start: number, count: number): { start: number; count: number } | undefined => {
    if (plan) {
      const i = planned.get(start);
      return i !== undefined && plan[i].count === count ? plan[i + 1] : undefined;
    }
    const next = start + count;
    return count > 0 && next < source.elementCount ? { start: next, count: Math.min(count, source.elementCount - next) } : undefined;
  };
  return {
    elementCount: source.elementCount,
    dtypes: source.dtypes,
    read(start, count, signal) {
      const bytes = ahead && ahead.start === start && ahead.count === count ? ahead.bytes : source.read(start, count, signal);
      ahead = undefined;
      const next = following(start, count);
      if (next) {
        const nextBytes = source.read(next.start, next.count, signal);
        // A read nobody asks for (the pass stopped early, or failed) must not surface as an unhandled rejection.
        nextBytes.catch(() => undefined);
        ahead = { ...next, bytes: nextBytes };
      }
      return bytes;
    },
  };
}
