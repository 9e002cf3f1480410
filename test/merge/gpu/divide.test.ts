/**
 * shaders/merge/divide.wgsl (correctly rounded f32 division on the bits) against the host's IEEE division:
 * Math.fround(a / b) — an f64 quotient of two f32 values rounded once to f32 is the correctly rounded
 * f32 quotient — for every class of operand: normal, subnormal, zero, Inf, NaN, quotients that overflow,
 * underflow into subnormals or to zero, and halfway cases. Bit for bit (every NaN as 0x7fc00000).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import { withBlocksAndStores } from '../../../src/merge/gpu/wgslModules';
import { nodeGPU } from '../../../src/node/webgpu';
import { seededUniform } from '../../../src/util/random';

let backend: WebGPUSoupBackend;
beforeAll(async () => {
  backend = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
});
afterAll(async () => {
  await backend?.dispose();
});

// A test entry point over the module under test: out[e] = divide(a[e], b[e]), two F32 inputs.
const QUOTIENT_KERNEL = withBlocksAndStores(
  `struct Params { blockCount: u32, zeroBits: u32, blocksPerRow: u32, unused: u32 }
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = blockIndex(gid);
  let n = params.blockCount;
  if (v >= n) { return; }
  let a = loadF32(2u * v);
  let b = loadF32(2u * n + 2u * v);
  storeF32(v, Block(divide(a.lo, b.lo), divide(a.hi, b.hi)));
}
`,
  { divide: true },
);

async function gpuQuotients(a: Uint32Array, b: Uint32Array): Promise<Uint32Array> {
  const out = await backend.runElementwise({
    inputs: [
      { dtype: 'F32', bytes: new Uint8Array(a.buffer) },
      { dtype: 'F32', bytes: new Uint8Array(b.buffer) },
    ],
    outDtype: 'F32',
    elementCount: a.length,
    shaderKey: 'divide.wgsl test',
    shaderCode: () => QUOTIENT_KERNEL,
    params: () => new Uint8Array(16),
  });
  return new Uint32Array(out.buffer, out.byteOffset, a.length);
}

const F = new Float32Array(2);
const U = new Uint32Array(F.buffer);
function hostQuotient(a: number, b: number): number {
  U[0] = a;
  U[1] = b;
  F[0] = F[0] / F[1];
  return Number.isNaN(F[0]) ? 0x7fc00000 : U[0];
}
const bitsOf = (x: number): number => {
  F[0] = x;
  return U[0];
};

/** Operand pairs of every class, as f32 bit patterns. */
function operands(count: number, seed: number): { a: Uint32Array; b: Uint32Array } {
  const r = seededUniform(seed);
  const u32 = () => Math.floor(r() * 2 ** 32) >>> 0;
  const a = new Uint32Array(count);
  const b = new Uint32Array(count);
  const special = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 1, 0x807fffff, 0x00800000, 0x7f7fffff, 0x3f800000, 0xbf800000];
  for (let i = 0; i < count; i++) {
    switch (i % 8) {
      case 0: // any bits
        a[i] = u32();
        b[i] = u32();
        break;
      case 1: // normal, quotients around 1
        a[i] = bitsOf((r() - 0.5) * 8);
        b[i] = bitsOf((r() - 0.5) * 8);
        break;
      case 2: // subnormal dividends, small integer divisors: subnormal quotients and halfway cases
        a[i] = (u32() & 0x807fffff) >>> 0;
        b[i] = bitsOf(1 + Math.floor(r() * 9));
        break;
      case 3: // quotients near the bottom of the range (underflow to subnormals and to zero)
        a[i] = ((u32() & 0x807fffff) | ((1 + Math.floor(r() * 40)) << 23)) >>> 0;
        b[i] = ((u32() & 0x007fffff) | ((120 + Math.floor(r() * 30)) << 23)) >>> 0;
        break;
      case 4: // quotients near the top (overflow to Inf)
        a[i] = ((u32() & 0x807fffff) | ((200 + Math.floor(r() * 54)) << 23)) >>> 0;
        b[i] = ((u32() & 0x807fffff) | ((60 + Math.floor(r() * 70)) << 23)) >>> 0;
        break;
      case 5: // subnormal divisors
        a[i] = u32();
        b[i] = (u32() & 0x807fffff) >>> 0;
        break;
      case 6: // specials against anything
        a[i] = special[Math.floor(r() * special.length)];
        b[i] = r() < 0.5 ? special[Math.floor(r() * special.length)] : u32();
        break;
      default: // exact quotients: a = b·k
        b[i] = bitsOf((r() - 0.5) * 1e3);
        a[i] = bitsOf(Math.fround(F[0] * (1 + Math.floor(r() * 64))));
        break;
    }
  }
  return { a, b };
}

describe('shaders/merge/divide.wgsl: correctly rounded f32 division (Dawn)', { timeout: 120_000 }, () => {
  it('equals Math.fround(a / b) bit for bit on every class of operand', async () => {
    const { a, b } = operands(64 * 1024, 7);
    const gpu = await gpuQuotients(a, b);
    let wrong = 0;
    let first = '';
    const classes = new Set<string>();
    for (let i = 0; i < a.length; i++) {
      const want = hostQuotient(a[i], b[i]);
      const q = want & 0x7fffffff;
      classes.add(q === 0 ? 'zero' : q < 0x00800000 ? 'subnormal' : q < 0x7f800000 ? 'normal' : q === 0x7f800000 ? 'inf' : 'nan');
      if (gpu[i] !== want) {
        if (!wrong) first = `${a[i].toString(16)} / ${b[i].toString(16)}: gpu ${gpu[i].toString(16)}, host ${want.toString(16)}`;
        wrong++;
      }
    }
    expect(wrong, first).toBe(0);
    expect([...classes].sort()).toEqual(['inf', 'nan', 'normal', 'subnormal', 'zero']);
  });
});
