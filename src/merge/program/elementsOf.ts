/** The GPU element kernel a program runs on, when it has one (gpuElements.ts). */
import type { GpuElements } from './gpuElements';
import type { TensorProgram } from './tensorProgram';

/** A GPU element kernel for the program, from gpuElements() or, for plain linear combinations, from describe(). */
export function elementsOf(program: TensorProgram, inputCount: number): GpuElements | undefined {
  const e = program.gpuElements?.();
  if (e) return e;
  const d = program.describe();
  // Non-finite coefficients (a tensor with NaN or Inf norms) make every output NaN or worse: the CPU's own code says which.
  if ((d.kernel === 'linear' || d.kernel === 'pair') && d.scalars.length === inputCount && d.scalars.every(Number.isFinite)) return { kernel: 'linear', coefficients: d.scalars };
  return undefined;
}
