export { sharedMemoryUsable } from '../util/sharedMemory';

/**
 * Reusable shared memory for soup jobs in flight. Each job reads its inputs straight into a slab and
 * the backend writes the result into the same slab; the slab goes back to the pool once the result is
 * written. Reusing them spares the page faults of fresh buffers (as costly as the arithmetic itself),
 * and sharing them spares the copies between threads. Only where SharedArrayBuffer may be used (Node;
 * a cross-origin isolated page). The backend may offer slabs of its own (SoupBackend.sharedSlabs: the
 * CPU backend's lie in the memory its kernel works in, which spares the kernel's copies too); they are
 * used first, and fresh ones are made when more are in flight.
 */
export class SlabPool {
  private readonly free: Uint8Array[];

  /** `bytes`: the size of each slab; a larger request gets a slab of its own, not kept. */
  constructor(
    private readonly bytes: number,
    offered: Uint8Array[] = [],
  ) {
    this.free = offered.filter((s) => s.byteLength === bytes).reverse();
  }

  take(minBytes: number): Uint8Array {
    if (minBytes > this.bytes) return new Uint8Array(new SharedArrayBuffer(minBytes));
    return this.free.pop() ?? new Uint8Array(new SharedArrayBuffer(this.bytes));
  }

  give(slab: Uint8Array): void {
    if (slab.byteLength === this.bytes) this.free.push(slab);
  }
}
