export { sharedMemoryUsable } from '../util/sharedMemory';

/**
 * Reusable shared memory for soup jobs in flight. Each job reads its inputs straight into a slab and
 * the backend writes the result into the same slab; the slab goes back to the pool once the result is
 * written. Reusing them spares the page faults of fresh buffers (as costly as the arithmetic itself),
 * and sharing them spares the copies between threads. Only where SharedArrayBuffer may be used (Node;
 * a cross-origin isolated page).
 */
export class SlabPool {
  private readonly free: SharedArrayBuffer[] = [];

  /** `bytes`: the size of each slab; a larger request gets a slab of its own, not kept. */
  constructor(private readonly bytes: number) {}

  take(minBytes: number): SharedArrayBuffer {
    if (minBytes > this.bytes) return new SharedArrayBuffer(minBytes);
    return this.free.pop() ?? new SharedArrayBuffer(this.bytes);
  }

  give(slab: SharedArrayBuffer): void {
    if (slab.byteLength === this.bytes) this.free.push(slab);
  }
}
