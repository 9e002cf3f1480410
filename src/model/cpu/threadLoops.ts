/**
 * The fast CPU model's elementwise work that is not a matmul, split over its kernel threads: SwiGLU over
 * the MLP's [rows, intermediate] activations and the log-sum-exp of every row of logits (a 0.5 B Qwen2's
 * 151,936-word vocabulary: 19 M exps per 128 tokens). On one thread they were 15–20 % of a forward pass,
 * and the part that does not shrink as threads are added.
 *
 * Each loop is a self-contained function over byte addresses in the model's memory and a range [a, b):
 * kernelThreads.ts puts its source text into the helper threads' script, so every thread runs the very
 * same code — the same arithmetic as ops.ts's swiglu and logSoftmax, element by element, so that the
 * results do not depend on how many threads share the work. Nothing here may refer to anything outside
 * its own body (the helper's script has no imports); addresses come as the control block's Int32 slots,
 * so `>>> 0` reads them back as the unsigned byte offsets of a memory of up to 4 GiB.
 */

/** out[i] = silu(gate[i]) · up[i] for elements a … b − 1 (f32 arrays at byte addresses gate, up, out), as ops.swiglu. */
export function swigluLoop(buffer: ArrayBufferLike, gate: number, up: number, out: number, a: number, b: number): void {
  const g = new Float32Array(buffer, (gate >>> 0) + a * 4, b - a);
  const u = new Float32Array(buffer, (up >>> 0) + a * 4, b - a);
  const o = new Float32Array(buffer, (out >>> 0) + a * 4, b - a);
  for (let i = 0; i < g.length; i++) {
    const x = g[i];
    o[i] = (x / (1 + Math.exp(-x))) * u[i];
  }
}

/**
 * out[r] = log Σ exp of row r of `logits` ([rows, cols] f32), for rows a … b − 1, into f64 values at byte
 * address `out`: the max subtracted, summed in double, as ops.logSoftmax does.
 */
export function logSumExpLoop(buffer: ArrayBufferLike, logits: number, cols: number, out: number, a: number, b: number): void {
  const v = new Float32Array(buffer, logits >>> 0);
  const o = new Float64Array(buffer, out >>> 0, b);
  for (let r = a; r < b; r++) {
    const at = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (v[at + j] > max) max = v[at + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(v[at + j] - max);
    o[r] = max + Math.log(sum);
  }
}

/** The loops by the index the control block names them with (after the matmul kernels). */
export const THREAD_LOOPS = [swigluLoop, logSumExpLoop] as const;
export type ThreadLoop = (typeof THREAD_LOOPS)[number];
