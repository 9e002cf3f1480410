import type { KernelDtype, SoupInput } from '../kernel';

/**
 * An element-wise kernel over packed inputs (the base first where there is one), for the merge methods
 * beyond the soup: the backend cuts it into pieces, packs, dispatches and reads back as for a soup job.
 */
export interface ElementwiseJob {
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  /** The kernel's module, cached under `shaderKey`; its entry point `main` takes 8 elements per invocation. */
  shaderKey: string;
  shaderCode: () => string;
  /**
   * The kernel's uniform for the piece that starts at element `pieceStart` of the job; the backend
   * fills its first 16 bytes (blocks of the piece, 0, invocations per grid row, 0).
   */
  params(pieceStart: number): Uint8Array<ArrayBuffer>;
  /** A read-only storage buffer (binding 3) for the piece of `count` elements from `pieceStart`: per-line coefficients, or DELLA's mask words. */
  storage?(pieceStart: number, count: number): Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;
}
