/**
 * The element pass of slerp, model_stock, nearswap and ram as a WebGPU job (shaders/methodElements.wgsl): the
 * inputs of one chunk of a tensor (the base first) and the method's scalars, packed into the kernel's
 * uniform after the header the backend fills.
 */
import type { KernelDtype, SoupInput } from '../merge/kernel';
import type { MethodElements } from '../merge/methods/gpuElements';
import { methodElementsShaderCode, methodElementsShapeKey, type MethodElementsShape } from './methodElementsShader';
import type { ElementwiseJob } from './webgpuSoupBackend';

export interface MethodElementsChunk {
  /** The base, then one input per model, `elementCount` elements each. */
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  elements: MethodElements;
}

const HEADER_WORDS = 4;

export function methodElementsJob(chunk: MethodElementsChunk): ElementwiseJob {
  const { scalars } = chunk.elements;
  const shape: MethodElementsShape = { kernel: chunk.elements.kernel, inputDtypes: chunk.inputs.map((i) => i.dtype), outDtype: chunk.outDtype, scalarCount: scalars.length };
  const vectors = Math.max(1, Math.ceil(scalars.length / 4));
  const buf = new ArrayBuffer(4 * (HEADER_WORDS + 4 * vectors));
  new Float32Array(buf, 4 * HEADER_WORDS).set(scalars);
  return {
    inputs: chunk.inputs,
    outDtype: chunk.outDtype,
    elementCount: chunk.elementCount,
    shaderKey: `methodElements.wgsl ${methodElementsShapeKey(shape)}`,
    shaderCode: () => methodElementsShaderCode(shape),
    params: () => new Uint8Array(buf.slice(0)),
  };
}
