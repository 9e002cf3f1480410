/**
 * What of a merge method runs on WebGPU and what falls back to the CPU (inside the same merge, with the
 * same results: src/merge/gpu/runProgramGpu.ts), found by asking the method's own program — not a second list that
 * could drift from the code. The program is built for a small generated tensor with representative
 * parameter values (a density of 0.5, so that TIES' selection exists) and its statistics passes run on
 * the CPU; then each pass says whether a GPU kernel can take it, and the element pass whether it has a
 * GPU kernel (elementsOf, the rule the GPU runner itself applies).
 */
import { elementsOf } from './elementsOf';
import { getMethod } from '../methods/registry';
import type { MergeMethod, ParameterSpec, ParameterValues, TensorContext } from '../methods/types';

export interface MethodGpuCoverage {
  /** Labels of the statistics passes a GPU kernel computes ("magnitude threshold (high bits)"). */
  gpuPasses: string[];
  /** Labels of the statistics passes the CPU computes on a WebGPU merge. */
  cpuPasses: string[];
  /** Whether the element pass (the output) has a GPU kernel. */
  elementsOnGpu: boolean;
}

const ROWS = 4;
const COLS = 16;

/** A value that exercises the method's work: 0.5 for fractions whose default (1) turns it off (density, select_topk), else the default. */
function probeValue(p: ParameterSpec): number | boolean | undefined {
  if (p.kind === 'boolean') return p.default;
  if (p.name === 'random_seed') return 1;
  const r = p.range;
  if (r && r.min === 0 && r.max === 1 && p.default === 1) return 0.5;
  if (p.default !== undefined) return p.default;
  return r?.min !== undefined && r.max !== undefined ? (r.min + r.max) / 2 : 0.5;
}

/** `overrides`: recipe-level parameter values instead of the probe's (nuslerp_flatten: false, filter_wise: true, …). */
export function methodGpuCoverage(methodOrName: MergeMethod | string, overrides: ParameterValues = {}): MethodGpuCoverage {
  const method = typeof methodOrName === 'string' ? getMethod(methodOrName) : methodOrName;
  const usesBase = method.needs.base !== 'ignored';
  const models = method.needs.models.max ?? Math.max(2, method.needs.models.min);
  const inputCount = (usesBase ? 1 : 0) + models;
  const params: ParameterValues = {};
  const modelValues: ParameterValues = {};
  for (const p of method.parameters) (p.level === 'model' ? modelValues : params)[p.name] = probeValue(p);
  Object.assign(params, overrides);
  const numel = ROWS * COLS;
  const ctx: TensorContext = {
    name: 'model.layers.0.mlp.up_proj.weight',
    shape: [ROWS, COLS],
    numel,
    inputCount,
    baseIndex: usesBase ? 0 : undefined,
    params,
    modelParams: Array.from({ length: inputCount }, () => ({ ...modelValues })),
    seed: 1,
    tensorKey: 1,
    outDtype: 'BF16',
  };
  // Distinct, deterministic values: every model differs from the base and from the others.
  const x = Array.from({ length: inputCount }, (_, m) => Float32Array.from({ length: numel }, (_, i) => Math.sin(1 + i * (m + 1.37)) * (1 + m / 4)));
  const program = method.program(ctx);
  const gpuPasses: string[] = [];
  const cpuPasses: string[] = [];
  const scratch = program.scratch ? new Float32Array(numel) : undefined;
  for (const pass of program.passes) {
    if (pass.skip?.()) continue;
    const list = pass.gpu !== undefined && pass.gpu.length > 0 ? gpuPasses : cpuPasses;
    // An iteration's passes repeat: each label once.
    if (!list.includes(pass.label)) list.push(pass.label);
    pass.accumulate({ offset: 0, count: numel, x, scratch });
    pass.finish();
  }
  return { gpuPasses, cpuPasses, elementsOnGpu: elementsOf(program, inputCount) !== undefined };
}

/** Whether all of a method runs on the GPU, none of it, or a part. */
export function gpuCoverageKind(c: MethodGpuCoverage): 'all' | 'none' | 'part' {
  if (c.cpuPasses.length === 0 && c.elementsOnGpu) return 'all';
  return c.gpuPasses.length === 0 && !c.elementsOnGpu ? 'none' : 'part';
}

/** The coverage in a few words, for the methods table (docs/merge-methods.md): "all", "none (…)", or what runs where. */
export function gpuCoverageSummary(c: MethodGpuCoverage): string {
  const kind = gpuCoverageKind(c);
  if (kind === 'all') return 'all';
  if (kind === 'none') return 'none (on the CPU inside a WebGPU merge, same results)';
  const gpu = [...c.gpuPasses, ...(c.elementsOnGpu ? ['the element pass'] : [])];
  const cpu = [...c.cpuPasses, ...(c.elementsOnGpu ? [] : ['the element pass'])];
  return `${gpu.join(', ')}; on the CPU: ${cpu.join(', ')}`;
}
