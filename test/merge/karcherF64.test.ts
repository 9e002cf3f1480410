/**
 * karcher against a second, independent oracle: mergekit's published iteration (merge_methods/karcher.py,
 * karcher_merge_tensors) evaluated in f64, with no f32 rounding anywhere. methods.test.ts holds SoupLab
 * to the bit against an f32 emulation of torch's steps (methodReference.ts); this one bounds how far
 * that f32 iteration — SoupLab's and mergekit's alike — lies from the exact one: within a few f32
 * roundings of the output's largest magnitude. Per element the ulp distance is larger only where an
 * element is far below that magnitude (its tangent terms cancel), as it is for mergekit in f32.
 */
import { describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import { runTensorProgram } from '../../src/merge/program/runProgram';
import { planMerge, type MethodStep } from '../../src/merge/plan';
import { parseRecipe } from '../../src/merge/recipe';
import { decodeFloats, encodeFloats, randomTensor, rng, safetensorsBytes, type TestTensor } from './models';

/** karcher_merge_tensors in f64: equal weights, mergekit's tolerances, clamp, early stop and scale. */
function karcherF64(xs: Float64Array[], maxIter = 10, tol = 1e-5): Float64Array {
  const n = xs[0].length;
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i] * b[i];
    return s;
  };
  const alphas = xs.map(() => 1 / xs.length);
  const norms = xs.map((x) => Math.sqrt(dot(x, x)));
  const valid = xs.map((_, i) => i).filter((i) => norms[i] > tol);
  if (valid.length === 0) return new Float64Array(n);
  const alphaSum = valid.reduce((s, i) => s + alphas[i], 0);
  const a = valid.map((i) => alphas[i] / alphaSum);
  const units = valid.map((i) => xs[i].map((v) => v / norms[i]));
  let u = new Float64Array(n);
  units.forEach((ui, k) => ui.forEach((v, e) => (u[e] += a[k] * v)));
  const normU = Math.sqrt(dot(u, u));
  u = normU < tol ? units[0].slice() : u.map((v) => v / normU);
  for (let it = 0; it < maxIter; it++) {
    const t = new Float64Array(n);
    units.forEach((ui, k) => {
      const d = Math.min(1, Math.max(-1, dot(u, ui)));
      const theta = Math.acos(d);
      if (theta < tol) return;
      const c = (a[k] * theta) / Math.sin(theta);
      for (let e = 0; e < n; e++) t[e] += c * (ui[e] - d * u[e]);
    });
    const normT = Math.sqrt(dot(t, t));
    if (normT < tol) break;
    u = u.map((v, e) => Math.cos(normT) * v + Math.sin(normT) * (t[e] / normT));
    const un = Math.sqrt(dot(u, u));
    if (un > tol) u = u.map((v) => v / un);
  }
  const s = alphas.reduce((acc, al, i) => acc + al * norms[i], 0);
  return u.map((v) => s * v);
}

const NAME = 'model.layers.0.mlp.up_proj.weight';

/** Distance of two f32 values in ulps (their bit patterns as ordered integers). */
function ulps(a: number, b: number): number {
  const bits = new Uint32Array(new Float32Array([a, b]).buffer);
  const ord = (x: number) => (x >= 0x80000000 ? -(x - 0x80000000) : x);
  return Math.abs(ord(bits[0]) - ord(bits[1]));
}

/** Three F32 models: independent (far apart on the sphere), or a base with small fine-tune deltas (close together). */
function models(kind: 'independent' | 'fine-tunes', shape: number[], seed: number): Float32Array[] {
  if (kind === 'independent') return [0, 1, 2].map((k) => decodeFloats('F32', randomTensor(NAME, 'F32', shape, seed + k, { scale: 0.05 }).data));
  const base = decodeFloats('F32', randomTensor(NAME, 'F32', shape, seed, { scale: 0.05 }).data);
  return [1, 2, 3].map((k) => {
    const r = rng(seed * 31 + k);
    return Float32Array.from(base, (v) => v + (r() - 0.5) * 0.002 * k);
  });
}

async function souplabKarcher(xs: Float32Array[], shape: number[]): Promise<Float32Array> {
  const names = xs.map((_, k) => `m${k}`);
  const { recipe } = parseRecipe(`merge_method: karcher\nout_dtype: float32\nmodels:\n${names.map((m) => `  - model: ${m}\n`).join('')}`);
  const map = new Map<string, Checkpoint>();
  for (const [k, x] of xs.entries()) {
    const t: TestTensor = { name: NAME, dtype: 'F32', shape, data: encodeFloats('F32', x) };
    map.set(names[k], await openCheckpoint(bytesSource(safetensorsBytes([t]), `${names[k]}.safetensors`)));
  }
  const s = planMerge(recipe, map).steps[0] as MethodStep;
  const out = new Float32Array(xs[0].length);
  let at = 0;
  for await (const part of runTensorProgram({ name: s.name, numel: out.length, outDtype: 'F32', inputs: s.inputs, program: s.program }, { maxChunkElements: 4096 })) {
    out.set(decodeFloats('F32', part), at);
    at += part.length / 4;
  }
  return out;
}

describe("karcher into F32 against an f64 evaluation of mergekit's iteration", () => {
  for (const kind of ['independent', 'fine-tunes'] as const) {
    for (const shape of [[33, 17], [256, 96]]) {
      test(`${kind} models, [${shape.join(', ')}]: every element within 2⁻²¹ of the largest`, async () => {
        const xs = models(kind, shape, 5);
        const got = await souplabKarcher(xs, shape);
        const exact = karcherF64(xs.map((x) => Float64Array.from(x)));
        let largest = 0;
        let worst = 0;
        let sameRounding = 0;
        for (let i = 0; i < got.length; i++) {
          largest = Math.max(largest, Math.abs(exact[i]));
          worst = Math.max(worst, Math.abs(got[i] - exact[i]));
          if (ulps(got[i], Math.fround(exact[i])) <= 1) sameRounding++;
        }
        // A few f32 roundings of the output's scale (2⁻²⁴ each): the f32 iteration's own error.
        expect(worst / largest).toBeLessThanOrEqual(2 ** -21);
        // and most elements are the f64 result rounded to f32, or a neighbour of it.
        expect(sameRounding / got.length).toBeGreaterThan(0.5);
      });
    }
  }
});
