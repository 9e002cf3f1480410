/**
 * The fast CPU model's matmul kernel alone (matmulKernel.ts), one thread, on the shapes of the model the
 * `model` benchmark scores: GFLOP/s of y = x · Wᵀ for a batch of activation rows against BF16 weights,
 * with the weights widened into a panel per block (what the model runs for ≥ PANEL_MIN_ROWS rows) and
 * in the inner loop (what it runs for fewer). Repetitions of the two alternate, and the best and the
 * median are printed: on a shared machine the best is the kernel's speed when it had the core, the
 * median what it got.
 */
import { blockRows, MATMUL_EXPORTS, matmulModuleBytes, panelBytes, type MatmulExports } from '../src/model/cpu/matmulKernel';

const PAGE = 65536;

/** Prints one line per shape [rows, k, m]. */
export function cpuKernelBenchmark(shapes: [number, number, number][], repetitions = 20): void {
  const need = (r: number, k: number, m: number) => r * k * 4 + m * k * 2 + r * m * 4 + panelBytes(k) + 4 * PAGE;
  const pages = Math.ceil(Math.max(...shapes.map(([r, k, m]) => need(r, k, m))) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const module = new WebAssembly.Module(matmulModuleBytes({ initial: pages, maximum: pages, shared: false }));
  const mm = (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as MatmulExports)[MATMUL_EXPORTS.BF16 as 'mm_bf16'];
  for (const [rows, k, m] of shapes) {
    const X = PAGE;
    const W = X + rows * k * 4 + PAGE;
    const Y = W + m * k * 2 + PAGE;
    const P = Y + rows * m * 4 + PAGE;
    const x = new Float32Array(memory.buffer, X, rows * k);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i);
    const w = new Uint16Array(memory.buffer, W, m * k);
    for (let i = 0; i < w.length; i++) w[i] = 0x3c00 + ((Math.imul(i, 2654435761) >>> 22) & 0x1ff) + ((i & 1) << 15);
    const variants = [
      { name: 'widened into a panel per block', run: () => mm(X, W, Y, rows, k, m, 0, m, blockRows(k, 'BF16', true), P), seconds: [] as number[] },
      { name: 'widened in the inner loop', run: () => mm(X, W, Y, rows, k, m, 0, m, blockRows(k, 'BF16'), 0), seconds: [] as number[] },
    ];
    for (const v of variants) v.run();
    for (let rep = 0; rep < repetitions; rep++) {
      for (const v of variants) {
        const t0 = performance.now();
        v.run();
        v.seconds.push((performance.now() - t0) / 1000);
      }
    }
    const gflops = (s: number) => ((2 * rows * k * m) / s / 1e9).toFixed(1);
    const parts = variants.map((v) => {
      const sorted = [...v.seconds].sort((a, b) => a - b);
      return `${v.name} ${gflops(sorted[0])} best / ${gflops(sorted[Math.floor(sorted.length / 2)])} median`;
    });
    console.log(`kernel  mm_bf16 ${rows} rows × k ${k} × m ${m}, one thread, GFLOP/s: ${parts.join('; ')}`);
  }
}
