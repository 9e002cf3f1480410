/**
 * GPU-vs-CPU comparison with the tolerance issue 3 allows: every element within 1 ulp of the output
 * dtype, and ≥ 99.9 % bit-identical. A GPU may flush f32 subnormals to zero (WGSL allows it), so a
 * pair of results that are both below the smallest normal f32 (2^-126) also counts as within
 * tolerance, though not as identical.
 */
import type { KernelDtype } from '../../../src/merge/kernel';

export interface Comparison {
  elements: number;
  identical: number;
  withinOneUlp: number;
  flushedSubnormals: number;
  worst: { index: number; gpu: number; cpu: number } | undefined;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function valueOf(dtype: KernelDtype, bits: number): number {
  if (dtype === 'F32') u32[0] = bits;
  else if (dtype === 'BF16') u32[0] = bits << 16;
  else {
    const e = (bits >> 10) & 0x1f;
    const m = bits & 0x3ff;
    const s = bits & 0x8000 ? -1 : 1;
    return e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1024 + m) * 2 ** (e - 25);
  }
  return f32[0];
}

function ordered(dtype: KernelDtype, bits: number): number {
  const signBit = dtype === 'F32' ? 0x80000000 : 0x8000;
  const mag = dtype === 'F32' ? (bits & 0x7fffffff) >>> 0 : bits & 0x7fff;
  return (bits & signBit) !== 0 ? -mag : mag;
}

export function compareOutputs(dtype: KernelDtype, gpu: Uint8Array, cpu: Uint8Array): Comparison {
  const n = dtype === 'F32' ? cpu.length / 4 : cpu.length / 2;
  const g = dtype === 'F32' ? new Uint32Array(gpu.slice().buffer) : new Uint16Array(gpu.slice().buffer);
  const c = dtype === 'F32' ? new Uint32Array(cpu.slice().buffer) : new Uint16Array(cpu.slice().buffer);
  const r: Comparison = { elements: n, identical: 0, withinOneUlp: 0, flushedSubnormals: 0, worst: undefined };
  let worstDistance = 0;
  for (let i = 0; i < n; i++) {
    if (g[i] === c[i]) {
      r.identical++;
      r.withinOneUlp++;
      continue;
    }
    const gv = valueOf(dtype, g[i]);
    const cv = valueOf(dtype, c[i]);
    const distance = Number.isNaN(gv) || Number.isNaN(cv) ? Infinity : Math.abs(ordered(dtype, g[i]) - ordered(dtype, c[i]));
    if (distance <= 1) {
      r.withinOneUlp++;
    } else if (Math.abs(gv) < 2 ** -126 && Math.abs(cv) < 2 ** -126) {
      r.flushedSubnormals++;
    } else if (distance > worstDistance) {
      worstDistance = distance;
      r.worst = { index: i, gpu: g[i], cpu: c[i] };
    }
  }
  return r;
}
