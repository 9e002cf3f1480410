/**
 * The entry point the element kernels of the merge methods share (taskArithmeticShader.ts,
 * methodElementsShader.ts): invocation v loads block v of every packed input (the base first, each
 * input's blocks after the previous input's, as the backends pack them), calls the kernel's `merged`
 * on the even and the odd elements, and stores the block in the output dtype.
 */
import type { KernelDtype } from '../kernel';
import { blocksPerElementBlock } from './soupShader';

const LOAD: Record<KernelDtype, string> = { F32: 'loadF32', F16: 'loadF16', BF16: 'loadBf16' };
const STORE: Record<KernelDtype, string> = { F32: 'storeF32', F16: 'storeF16', BF16: 'storeBf16' };

/**
 * `main`: `b` is input 0, `x0…` the others; `merged(part, odd)` is the call that merges the `lo`
 * (even elements, odd = 0) or `hi` (odd = 1) halves.
 */
export function elementKernelMain(workgroupSize: number, inputDtypes: readonly KernelDtype[], outDtype: KernelDtype, merged: (part: 'lo' | 'hi', odd: number) => string): string {
  let slot = 0;
  const loads = inputDtypes.map((dtype) => {
    const at = `${slot === 0 ? '' : `${slot}u * n + `}${dtype === 'F32' ? '2u * v' : 'v'}`;
    slot += blocksPerElementBlock(dtype);
    return `${LOAD[dtype]}(${at})`;
  });
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = blockIndex(gid);
  let n = params.blockCount;
  if (v >= n) {
    return;
  }
  let b = ${loads[0]};
${loads.slice(1).map((load, j) => `  let x${j} = ${load};`).join('\n')}
  ${STORE[outDtype]}(v, Block(${merged('lo', 0)}, ${merged('hi', 1)}));
}
`;
}

/** The arguments of `merged` for one half: the base's, then every model's. */
export function halves(models: number, part: 'lo' | 'hi'): string {
  return ['b', ...Array.from({ length: models }, (_, j) => `x${j}`)].map((x) => `${x}.${part}`).join(', ');
}
