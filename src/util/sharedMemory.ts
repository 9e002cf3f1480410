/**
 * Whether SharedArrayBuffer may be used here: always in Node, in a page or worker only when it is
 * cross-origin isolated. The merge's slabs and the CPU model's threads share memory only then, and
 * copy between threads otherwise.
 */
export function sharedMemoryUsable(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}
