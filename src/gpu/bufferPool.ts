/**
 * Reuses GPU buffers by usage and size class (in the manner of onnxruntime-web's gpu-data-manager):
 * chunked merges ask for the same few sizes over and over, and creating buffers is not free.
 * Sizes are rounded up to a class (powers of two below 1 MiB, then steps of 1/8 of the next power of
 * two, so at most 12.5 % is wasted); at most `keepPerClass` idle buffers are kept per class.
 */
export class GpuBufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  created = 0;
  reused = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly keepPerClass = 4,
  ) {}

  static sizeClass(bytes: number): number {
    const n = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (n <= 1 << 20) return 2 ** Math.ceil(Math.log2(n));
    const step = 2 ** Math.ceil(Math.log2(n)) / 8;
    return Math.ceil(n / step) * step;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = GpuBufferPool.sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const buf = list?.pop();
    if (buf) {
      this.reused++;
      this.live.add(buf);
      return buf;
    }
    const created = this.device.createBuffer({ size, usage, label });
    this.created++;
    this.live.add(created);
    return created;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return;
    const key = `${buf.usage}:${buf.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    if (list.length < this.keepPerClass) list.push(buf);
    else buf.destroy();
  }

  /** Idle buffers kept, in bytes. */
  idleBytes(): number {
    let n = 0;
    for (const list of this.free.values()) for (const b of list) n += b.size;
    return n;
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    for (const b of this.live) b.destroy();
    this.free.clear();
    this.live.clear();
  }
}
