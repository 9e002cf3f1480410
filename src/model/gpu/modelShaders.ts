/**
 * The WGSL of the forward pass (shaders/model/*.wgsl), completed with `loadW` for the dtype of the
 * weight the kernel reads. Weights stay on the GPU in their checkpoint dtype (half the memory of f32
 * for F16/BF16) as arrays of u32 words; no shader-f16 is assumed (SwiftShader and many Vulkan setups
 * lack it), so F16 and BF16 are decoded on the integer bits, exactly, subnormals included.
 */
import attentionWgsl from '../../../shaders/model/attention.wgsl?raw';
import elementwiseWgsl from '../../../shaders/model/elementwise.wgsl?raw';
import embedWgsl from '../../../shaders/model/embed.wgsl?raw';
import logitsWgsl from '../../../shaders/model/logits.wgsl?raw';
import matmulWgsl from '../../../shaders/model/matmul.wgsl?raw';
import reduceWgsl from '../../../shaders/model/reduce.wgsl?raw';
import reduceSharedWgsl from '../../../shaders/model/reduceShared.wgsl?raw';
import reduceSubgroupsWgsl from '../../../shaders/model/reduceSubgroups.wgsl?raw';
import rmsnormWgsl from '../../../shaders/model/rmsnorm.wgsl?raw';
import ropeWgsl from '../../../shaders/model/rope.wgsl?raw';

export type WeightDtype = 'F32' | 'F16' | 'BF16';
export type ModelKernel = 'matmul' | 'rmsnorm' | 'rope' | 'attention' | 'embed' | 'elementwise' | 'logits';

const SOURCES: Record<ModelKernel, string> = {
  matmul: matmulWgsl,
  rmsnorm: rmsnormWgsl,
  rope: ropeWgsl,
  attention: attentionWgsl,
  embed: embedWgsl,
  elementwise: elementwiseWgsl,
  logits: logitsWgsl,
};

/** Kernels that read a weight (`W`, through loadW) and so come in one variant per weight dtype. */
export const WEIGHT_KERNELS: ReadonlySet<ModelKernel> = new Set(['matmul', 'rmsnorm', 'embed', 'elementwise']);

// Element i of W. F16: the integer decode of shaders/merge/soup.wgsl, scalar (exact for subnormals, Inf, NaN,
// where unpack2x16float may flush). BF16: the high 16 bits of an f32.
const LOAD_W: Record<WeightDtype, string> = {
  F32: `fn loadW(i: u32) -> f32 {
  return bitcast<f32>(W[i]);
}`,
  BF16: `fn loadW(i: u32) -> f32 {
  let word = W[i >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}`,
  F16: `fn loadW(i: u32) -> f32 {
  let h = (W[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
  let sign = (h & 0x8000u) << 16u;
  let em = h & 0x7fffu;
  if (em >= 0x7c00u) {
    return bitcast<f32>(sign | 0x7f800000u | ((em & 0x3ffu) << 13u));
  }
  if (em >= 0x400u) {
    return bitcast<f32>(sign | ((em << 13u) + (112u << 23u)));
  }
  // Subnormal m·2⁻²⁴: m converts exactly, and lowering its exponent by 24 on the bits stays normal.
  let m = select(bitcast<u32>(f32(em)) - (24u << 23u), 0u, em == 0u);
  return bitcast<f32>(sign | m);
}`,
};

/**
 * Which optional WebGPU features the kernels use. `f16`: the tiled matmul's workgroup tiles and products
 * in f16 (sums in f32), needs `shader-f16`. `subgroups`: the row reductions of RMSNorm and of the
 * log-softmax / argmax use subgroup operations, needs `subgroups`. Every kernel has a variant without them.
 */
export interface KernelFeatures {
  f16: boolean;
  subgroups: boolean;
}

export const NO_FEATURES: KernelFeatures = { f16: false, subgroups: false };

/** Kernels whose row reductions come from reduce.wgsl / reduceSubgroups.wgsl. */
const REDUCING_KERNELS: ReadonlySet<ModelKernel> = new Set(['rmsnorm', 'logits']);

/** The features `kernel` actually uses under `features` (others make no difference to its code). */
function usedFeatures(kernel: ModelKernel, features: KernelFeatures): KernelFeatures {
  return { f16: features.f16 && kernel === 'matmul', subgroups: features.subgroups && REDUCING_KERNELS.has(kernel) };
}

/** The label under which the pipeline cache keeps the module: kernel, weight dtype and the features it uses. */
export function modelShaderLabel(kernel: ModelKernel, dtype: WeightDtype | null, features: KernelFeatures = NO_FEATURES): string {
  const used = usedFeatures(kernel, features);
  return `model/${kernel}.wgsl${dtype && WEIGHT_KERNELS.has(kernel) ? ` ${dtype}` : ''}${used.f16 ? ' f16' : ''}${used.subgroups ? ' subgroups' : ''}`;
}

/** The complete module of `kernel`; `dtype` is the weight dtype of a weight kernel (else ignored). */
export function modelShaderCode(kernel: ModelKernel, dtype: WeightDtype | null, features: KernelFeatures = NO_FEATURES): string {
  const used = usedFeatures(kernel, features);
  // Directives must come before any declaration.
  const directives = [used.f16 ? 'enable f16;' : '', used.subgroups ? 'enable subgroups;' : ''].filter(Boolean).join('\n');
  let code = `${directives}${directives ? '\n' : ''}${SOURCES[kernel]}`;
  if (kernel === 'matmul') code += `\n// ---- the tiles' type (src/model/gpu/modelShaders.ts)\nalias Tile = ${used.f16 ? 'f16' : 'f32'};\n`;
  if (REDUCING_KERNELS.has(kernel)) code += `\n// ---- row reductions (src/model/gpu/modelShaders.ts)\n${reduceSharedWgsl}\n${used.subgroups ? reduceSubgroupsWgsl : reduceWgsl}`;
  if (!WEIGHT_KERNELS.has(kernel)) return code;
  if (!dtype) throw new Error(`modelShaderCode: ${kernel} needs the weight dtype`);
  return `${code}\n// ---- loadW for ${dtype} weights (src/model/gpu/modelShaders.ts)\n${LOAD_W[dtype]}\n`;
}

/** The features `device` offers the kernels (what it was opened with, see src/gpu/device.ts). */
export function deviceKernelFeatures(device: GPUDevice): KernelFeatures {
  return { f16: device.features.has('shader-f16'), subgroups: device.features.has('subgroups') };
}
