/**
 * The element pass of slerp, nuslerp, multislerp, model_stock, nearswap, ram and sce as a WebGPU job (shaders/merge/methodElements.wgsl): the
 * inputs of one chunk of a tensor (the base first) and the method's scalars, packed into the kernel's
 * uniform after the header the backend fills.
 */
import type { KernelDtype, SoupInput } from '../kernel';
import type { MethodElements } from '../program/gpuElements';
import { methodElementsShaderCode, methodElementsShapeKey, type MethodElementsShape } from './methodElementsShader';
import { putBoundary } from './taskArithmeticKernel';
import type { ElementwiseJob } from './webgpuSoupBackend';

export interface MethodElementsChunk {
  /** The base, then one input per model, `elementCount` elements each. */
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  /** The tensor index of the chunk's first element (selections are by tensor index). */
  offset: number;
  elements: MethodElements;
}

const HEADER_WORDS = 8;

export function methodElementsJob(chunk: MethodElementsChunk): ElementwiseJob {
  const { scalars, keep, boundary, base, lines } = chunk.elements;
  const count = scalars.length + (boundary ? 3 : 0);
  const shape: MethodElementsShape = {
    kernel: chunk.elements.kernel,
    inputDtypes: chunk.inputs.map((i) => i.dtype),
    outDtype: chunk.outDtype,
    scalarCount: count,
    keep,
    base,
    lines: lines && { grouping: lines.lines.grouping, perLine: lines.perLine },
  };
  // Per-line coefficients: a row's line is (offset in its row + local index) / row length, counted from
  // the piece's first row, whose coefficients come first in the piece's buffer; a column's is
  // (offset + local index) mod the column count, every column's coefficients in the buffer.
  const period = lines ? (lines.lines.grouping === 'row' ? lines.lines.length : lines.lines.count) : 1;
  const vectors = Math.max(1, Math.ceil(count / 4));
  const template = new ArrayBuffer(4 * (HEADER_WORDS + 4 * vectors));
  new Float32Array(template, 4 * HEADER_WORDS).set(scalars);
  if (boundary) putBoundary(new Uint32Array(template), HEADER_WORDS + scalars.length, boundary);
  return {
    inputs: chunk.inputs,
    outDtype: chunk.outDtype,
    elementCount: chunk.elementCount,
    shaderKey: `methodElements.wgsl ${methodElementsShapeKey(shape)}`,
    shaderCode: () => methodElementsShaderCode(shape),
    params(pieceStart) {
      const buf = template.slice(0);
      const words = new Uint32Array(buf);
      const offset = chunk.offset + pieceStart;
      words[4] = offset >>> 0;
      words[5] = Math.floor(offset / 4294967296) >>> 0;
      words[6] = period;
      words[7] = offset % period;
      return new Uint8Array(buf);
    },
    storage: lines
      ? (pieceStart, n) => {
          if (lines.lines.grouping === 'column') return lines.values as Float32Array<ArrayBuffer>;
          const offset = chunk.offset + pieceStart;
          const first = Math.floor(offset / period);
          const last = Math.floor((offset + Math.max(1, n) - 1) / period);
          return lines.values.subarray(first * lines.perLine, (last + 1) * lines.perLine) as Float32Array<ArrayBuffer>;
        }
      : undefined,
  };
}
