/**
 * WGSL has no imports: a kernel's module is shaders/blocks.wgsl (the 8-element blocks, their loads and
 * the f32 ⇄ F16/BF16 bit conversions every kernel shares), shaders/stores.wgsl for kernels that write
 * a merged tensor, then the kernel's own file and the entry point its generator appends. One copy of
 * the conversions, for every kernel.
 */
import blocksWgsl from '../../shaders/blocks.wgsl?raw';
import storesWgsl from '../../shaders/stores.wgsl?raw';

/** `kernel` (a file of shaders/, possibly completed by its generator) preceded by shaders/blocks.wgsl. */
export function withBlocks(kernel: string): string {
  return `${blocksWgsl}\n${kernel}`;
}

/** `kernel` preceded by shaders/blocks.wgsl and shaders/stores.wgsl (it declares `dst`). */
export function withBlocksAndStores(kernel: string): string {
  return `${blocksWgsl}\n${storesWgsl}\n${kernel}`;
}
