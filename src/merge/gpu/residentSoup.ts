/**
 * The search's in-GPU souping: the ingredients are uploaded once, in their own dtype, to the device the
 * WebGPU model lives on; each point is then one submit that, per tensor piece, gathers the ingredients'
 * slices into the soup kernel's packed input (GPU-to-GPU copies), runs shaders/merge/soup.wgsl (the same
 * kernel, specialisation and coefficients as `souplab merge` on WebGPU) and copies the result straight
 * into the model's weight buffer. Nothing crosses the bus per point but the uniform parameters.
 *
 * Pieces follow the model's own cut of each tensor (weightParts: rows that fit one binding), then cut
 * further to fit the kernel's binding; every piece starts on a multiple of 512 elements, so every copy
 * offset is a multiple of 4 bytes.
 */
import { CancelledError, InputError } from '../../errors';
import type { Checkpoint } from '../../formats/checkpoint';
import { KERNEL_DTYPE_BYTES, type KernelDtype } from '../kernel';
import type { MergePlan, SoupStep } from '../plan';
import type { SoupDevice } from '../../gpu/device';
import { PipelineCache } from '../../gpu/pipelineCache';
import { blocksPerElementBlock, SOUP_BLOCK_ELEMENTS, SOUP_WORKGROUP_SIZE, soupShaderCode, soupShapeKey, type SoupShape } from './soupShader';
import { writePadded, type WeightPart } from '../../model/gpu/residentWeights';

/** What the souper needs of the WebGPU model: its resident tensors. */
export interface ResidentModel {
  weightNames(): string[];
  weightParts(name: string): { dtype: KernelDtype; shape: readonly number[]; parts: readonly WeightPart[] };
}

const PIECE_ALIGN = SOUP_BLOCK_ELEMENTS * SOUP_WORKGROUP_SIZE;
const UNIFORM_STRIDE = 256;

export interface GpuIngredients {
  /** Bytes the ingredients hold on the GPU. */
  readonly bytes: number;
  /** Soups `plan` (a linear plan over `used`, indices into the uploaded models, in the plan's input order) into the model. */
  soupInto(plan: MergePlan, used: number[], signal?: AbortSignal): Promise<void>;
  dispose(): void;
}

/** Bytes the ingredients will take on the GPU (each model part of each tensor, padded to a word). */
export function gpuIngredientBytes(model: ResidentModel, checkpoints: Checkpoint[]): number {
  let n = 0;
  for (const name of model.weightNames()) {
    for (const c of checkpoints) {
      const t = c.tensors.get(name);
      if (t) n += Math.ceil(t.info.byteLength / 4) * 4;
    }
  }
  return n;
}

export async function uploadGpuIngredients(ctx: SoupDevice, model: ResidentModel, checkpoints: Checkpoint[], signal?: AbortSignal): Promise<GpuIngredients> {
  const { device } = ctx;
  const limits = device.limits;
  const pipelines = new PipelineCache(device);
  // buffers[name][part][model]
  const buffers = new Map<string, GPUBuffer[][]>();
  let bytes = 0;
  const destroyAll = () => {
    for (const parts of buffers.values()) for (const perModel of parts) for (const b of perModel) b.destroy();
    buffers.clear();
  };
  try {
    for (const name of model.weightNames()) {
      const { shape, parts } = model.weightParts(name);
      const rowLength = shape.length <= 1 ? shape.reduce((a, b) => a * b, 1) : shape[shape.length - 1];
      const perPart: GPUBuffer[][] = [];
      for (const part of parts) {
        const perModel: GPUBuffer[] = [];
        for (const c of checkpoints) {
          if (signal?.aborted) throw new CancelledError();
          const t = c.tensors.get(name);
          if (!t) throw new InputError(`${c.name}: has no tensor ${name}, which the model needs`);
          const dtype = t.info.dtype;
          if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new InputError(`${c.name}: tensor ${name} is ${dtype}; the GPU search soups F32, F16 and BF16`);
          const size = KERNEL_DTYPE_BYTES[dtype];
          const from = part.firstRow * rowLength * size;
          const length = part.rows * rowLength * size;
          const data = await t.source.read(t.info.byteOffset + from, length);
          const padded = Math.max(4, Math.ceil(length / 4) * 4);
          const buffer = device.createBuffer({ label: `${c.name}: ${name}`, size: padded, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
          perModel.push(buffer);
          writePadded(device, buffer, 0, data);
          bytes += padded;
        }
        perPart.push(perModel);
      }
      buffers.set(name, perPart);
      // Bound the staging memory queued for upload.
      await device.queue.onSubmittedWorkDone();
    }
  } catch (e) {
    destroyAll();
    throw e;
  }

  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const maxX = limits.maxComputeWorkgroupsPerDimension;
  let scratch: { src: GPUBuffer; dst: GPUBuffer; srcBytes: number; dstBytes: number } | null = null;
  const scratchFor = (srcBytes: number, dstBytes: number) => {
    if (!scratch || scratch.srcBytes < srcBytes || scratch.dstBytes < dstBytes) {
      scratch?.src.destroy();
      scratch?.dst.destroy();
      const s = Math.max(srcBytes, scratch?.srcBytes ?? 0);
      const d = Math.max(dstBytes, scratch?.dstBytes ?? 0);
      scratch = {
        src: device.createBuffer({ label: 'search soup inputs', size: s, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }),
        dst: device.createBuffer({ label: 'search soup output', size: d, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }),
        srcBytes: s,
        dstBytes: d,
      };
    }
    return scratch;
  };

  return {
    bytes,
    async soupInto(plan, used, signal) {
      const lost = ctx.lostError();
      if (lost) throw lost;
      if (signal?.aborted) throw new CancelledError();
      const steps = new Map(plan.steps.flatMap((s): [string, SoupStep][] => (s.kind === 'soup' ? [[s.name, s]] : [])));
      type Dispatch = { step: SoupStep; part: number; weight: WeightPart; start: number; count: number; outDtype: KernelDtype; rowLength: number };
      const dispatches: Dispatch[] = [];
      let maxSrc = 0;
      let maxDst = 0;
      for (const name of model.weightNames()) {
        const step = steps.get(name);
        if (!step) throw new InputError(`the soup has no float tensor ${name}, which the model needs`);
        if (step.mode !== 'linear' || step.inputs.length !== used.length) throw new InputError(`tensor ${name}: the GPU search soups linear recipes of the uploaded models only`);
        const { dtype, shape, parts } = model.weightParts(name);
        const rowLength = shape.length <= 1 ? shape.reduce((a, b) => a * b, 1) : shape[shape.length - 1];
        const slots = step.inputs.reduce((s, t) => s + blocksPerElementBlock(t.info.dtype as KernelDtype), 0);
        // Bytes per element: 2 per 16-byte slot of an 8-element block.
        const maxCount = Math.max(PIECE_ALIGN, Math.floor(maxBinding / (2 * Math.max(slots, blocksPerElementBlock(dtype))) / PIECE_ALIGN) * PIECE_ALIGN);
        parts.forEach((weight, part) => {
          const elements = weight.rows * rowLength;
          for (let start = 0; start < elements; start += maxCount) {
            const count = Math.min(maxCount, elements - start);
            const blocks = Math.ceil(count / SOUP_BLOCK_ELEMENTS);
            maxSrc = Math.max(maxSrc, slots * blocks * 16);
            maxDst = Math.max(maxDst, blocksPerElementBlock(dtype) * blocks * 16);
            dispatches.push({ step, part, weight, start, count, outDtype: dtype, rowLength });
          }
        });
      }
      const { src, dst } = scratchFor(maxSrc, maxDst);
      const paramBytes = new Uint8Array(dispatches.length * UNIFORM_STRIDE);
      const submitted = ctx.scoped('search soup', () => {
        const params = device.createBuffer({ label: 'search soup params', size: Math.max(UNIFORM_STRIDE, paramBytes.byteLength), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        const enc = device.createCommandEncoder({ label: 'search soup' });
        dispatches.forEach((d, k) => {
          const n = d.step.inputs.length;
          const blocks = Math.ceil(d.count / SOUP_BLOCK_ELEMENTS);
          const groups = Math.ceil(blocks / SOUP_WORKGROUP_SIZE);
          const gx = Math.min(groups, maxX);
          const gy = Math.ceil(groups / gx);
          const view = new DataView(paramBytes.buffer, k * UNIFORM_STRIDE, UNIFORM_STRIDE);
          view.setUint32(0, blocks, true);
          view.setUint32(8, gx * SOUP_WORKGROUP_SIZE, true);
          for (let i = 0; i < n; i++) view.setFloat32(16 + 4 * i, d.step.coefficients[i], true);
          let slot = 0;
          const inputDtypes: KernelDtype[] = [];
          d.step.inputs.forEach((t, i) => {
            const dtype = t.info.dtype as KernelDtype;
            inputDtypes.push(dtype);
            const size = KERNEL_DTYPE_BYTES[dtype];
            const from = buffers.get(d.step.name)![d.part][used[i]];
            enc.copyBufferToBuffer(from, d.start * size, src, slot * blocks * 16, Math.min(Math.ceil((d.count * size) / 4) * 4, from.size - d.start * size));
            slot += blocksPerElementBlock(dtype);
          });
          const shape: SoupShape = { mode: 'linear', inputDtypes, outDtype: d.outDtype };
          const pipeline = pipelines.get(`soup.wgsl ${soupShapeKey(shape)}`, () => soupShaderCode(shape));
          const paramSize = 16 + 16 * Math.ceil(n / 4);
          const srcBytes = slot * blocks * 16;
          const outBytes = blocksPerElementBlock(d.outDtype) * blocks * 16;
          const bindGroup = device.createBindGroup({
            layout: pipeline.getBindGroupLayout(0),
            entries: [
              { binding: 0, resource: { buffer: params, offset: k * UNIFORM_STRIDE, size: paramSize } },
              { binding: 1, resource: { buffer: src, size: srcBytes } },
              { binding: 2, resource: { buffer: dst, size: outBytes } },
            ],
          });
          const pass = enc.beginComputePass({ label: 'search soup' });
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(gx, gy);
          pass.end();
          const outSize = KERNEL_DTYPE_BYTES[d.outDtype];
          const at = d.start * outSize;
          enc.copyBufferToBuffer(dst, 0, d.weight.buffer, at, Math.min(Math.ceil((d.count * outSize) / 4) * 4, d.weight.buffer.size - at));
        });
        device.queue.writeBuffer(params, 0, paramBytes);
        device.queue.submit([enc.finish()]);
        return params;
      });
      try {
        submitted.errors.catch(() => undefined);
        await Promise.race([submitted.errors, ctx.lost]);
        await Promise.race([device.queue.onSubmittedWorkDone(), ctx.lost]);
      } finally {
        submitted.value.destroy();
      }
    },
    dispose() {
      destroyAll();
      const s = scratch as { src: GPUBuffer; dst: GPUBuffer } | null;
      s?.src.destroy();
      s?.dst.destroy();
      scratch = null;
    },
  };
}
