/**
 * WGSL has no imports: a kernel's module is shaders/merge/blocks.wgsl (the 8-element blocks, their loads and
 * the f32 ⇄ F16/BF16 bit conversions every kernel shares), shaders/merge/stores.wgsl for kernels that write
 * a merged tensor, shaders/merge/divide.wgsl for kernels whose CPU twin divides, shaders/merge/selection.wgsl for
 * kernels that test selection boundaries, shaders/merge/keep.wgsl for kernels that apply the task-arithmetic
 * family's keep masks (and shaders/merge/keepBits.wgsl for DELLA's, with their binding), shaders/merge/multislerp.wgsl for multislerp's element chain, then the kernel's own file
 * and the entry point its generator appends. One copy of each, for every kernel.
 */
import blocksWgsl from '../../../shaders/merge/blocks.wgsl?raw';
import divideWgsl from '../../../shaders/merge/divide.wgsl?raw';
import keepWgsl from '../../../shaders/merge/keep.wgsl?raw';
import keepBitsWgsl from '../../../shaders/merge/keepBits.wgsl?raw';
import multislerpWgsl from '../../../shaders/merge/multislerp.wgsl?raw';
import selectionWgsl from '../../../shaders/merge/selection.wgsl?raw';
import storesWgsl from '../../../shaders/merge/stores.wgsl?raw';

export interface WgslModules {
  /** shaders/merge/divide.wgsl: `divide(a, b)`, correctly rounded f32 division. */
  divide?: boolean;
  /** shaders/merge/selection.wgsl: element indices and selection boundaries (Params has offsetLo, offsetHi). */
  selection?: boolean;
  /** shaders/merge/keep.wgsl (with selection): the task-arithmetic family's keep masks. */
  keep?: boolean;
  /** shaders/merge/keepBits.wgsl (with keep): DELLA's keep masks, their words at this binding. */
  keepBits?: number;
  /** shaders/merge/multislerp.wgsl (with divide): multislerp's element chain over this many models. */
  multislerpModels?: number;
}

function extras(modules: WgslModules): string {
  const multislerp = modules.multislerpModels ? `const MULTISLERP_MODELS: u32 = ${modules.multislerpModels}u;\n${multislerpWgsl}\n` : '';
  const bits = modules.keepBits === undefined ? '' : `@group(0) @binding(${modules.keepBits}) var<storage, read> keepBitWords: array<u32>;\n${keepBitsWgsl}\n`;
  return `${modules.divide ? `${divideWgsl}\n` : ''}${modules.selection ? `${selectionWgsl}\n` : ''}${modules.keep ? `${keepWgsl}\n` : ''}${bits}${multislerp}`;
}

/** `kernel` (a file of shaders/, possibly completed by its generator) preceded by shaders/merge/blocks.wgsl. */
export function withBlocks(kernel: string, modules: WgslModules = {}): string {
  return `${blocksWgsl}\n${extras(modules)}${kernel}`;
}

/** `kernel` preceded by shaders/merge/blocks.wgsl and shaders/merge/stores.wgsl (the bindings, blockIndex, opaque and the stores; the kernel declares `struct Params`). */
export function withBlocksAndStores(kernel: string, modules: WgslModules = {}): string {
  return `${blocksWgsl}\n${storesWgsl}\n${extras(modules)}${kernel}`;
}
