/**
 * The dtypes the merge kernels compute on and their sizes: a leaf that the program machinery
 * (program/tensorStats.ts) and the soup job (kernel.ts) both read, so neither imports the other for it.
 */
export type KernelDtype = 'F32' | 'F16' | 'BF16';

export const KERNEL_DTYPE_BYTES: Readonly<Record<KernelDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
