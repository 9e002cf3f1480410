/**
 * The fast CPU model's threads: one WebAssembly memory (weights, activations and a control block)
 * shared by the calling thread and `count − 1` helper threads, each running the matmul module on it.
 * A matmul is split by output columns; the caller writes the job into the control block, wakes the
 * helpers (Atomics.notify), computes its own part and waits until every helper has decremented the
 * pending count. No message per job, no copies.
 *
 * Platform code is injected: a KernelThreadSpawner starts a thread running KERNEL_THREAD_SOURCE (Node:
 * a worker_thread from src/node; the browser: a web worker from src/browser) and delivers it one
 * message, KernelThreadInit. Without SharedArrayBuffer (a page that is not cross-origin isolated) or
 * with count 1, everything runs on the calling thread.
 */
import { blockRows, MATMUL_EXPORTS, matmulModuleBytes, PANEL_MIN_ROWS, panelBytes, splitColumns, type MatmulExports, type WeightDtype } from './matmulKernel';
import { ELEMENTWISE_EXPORTS, type ElementwiseExport } from './elementwiseKernel';

export interface KernelThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** This thread's part of every job (1 … parts − 1; the caller takes part 0). */
  index: number;
  /** Byte offset of the control block in memory. */
  control: number;
}

export interface KernelThread {
  /** Sends the thread its one message. */
  start(init: KernelThreadInit): void;
  terminate(): void;
}

/** Starts a thread that runs `source` (a script defining kernelThread(init)) and hands it its init message. */
export type KernelThreadSpawner = (source: string) => KernelThread;

export interface KernelThreadsOption {
  /** Threads in all, the calling one included. */
  count: number;
  spawn: KernelThreadSpawner;
  /** How long the first threaded matmul waits for the helpers to start (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
}

// Control block (Int32 slots).
const GEN = 0;
const PENDING = 1;
const FN = 2;
const ARGS = 3; // x, w, y, rows, k, m, jb, panel of part 0 or 0 (8 slots); an elementwise function's three arguments
const PARTS = 11;
const FAILED = 12;
/** Columns split between the threads, from J0: the range's length rounded down to even (an odd last one is done apart); an elementwise function's count. */
const COLUMNS = 13;
/** Helpers that have instantiated the module and wait for jobs. */
const READY = 14;
/** Bytes between one thread's panel and the next (thread i's is at the job's panel + i · stride). */
const PANEL_STRIDE = 15;
/** First column of the job's range. */
const J0 = 16;
/** How long the first threaded matmul waits for the helpers to start before going on alone. */
export const START_TIMEOUT_MS = 30_000;
export const CONTROL_BYTES = 128;
const FNS: readonly WeightDtype[] = ['F32', 'F16', 'BF16'];
/**
 * How many times a thread checks for its next job (helpers) or for the helpers' end (the calling thread)
 * before it sleeps in Atomics.wait: 0.15–0.2 ms of spinning (7–10 ns a check on the development VM),
 * about the time a sleeping thread took to wake there (the calling thread waited ~0.5 ms per job). Five
 * times longer was not clearly faster, and spins cost the other processes of a busy machine.
 */
const SPIN_CHECKS = 20_000;
/** FN of the first elementwise function of elementwiseKernel.ts (after the matmul kernels). */
const FIRST_ELEMENTWISE = FNS.length;

/**
 * The helper's script: the function, and the platform's glue calls it with its init message. It splits
 * columns as splitColumns does (kept in step by the tests comparing threaded and one-threaded results).
 */
export const KERNEL_THREAD_SOURCE = `
function kernelThread(init) {
  const ex = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports;
  const fns = [ex.mm_f32, ex.mm_f16, ex.mm_bf16];
  const elementwise = [${ELEMENTWISE_EXPORTS.map((name) => `ex.${name}`).join(', ')}];
  const c = new Int32Array(init.memory.buffer, init.control, ${CONTROL_BYTES / 4});
  let seen = 0;
  Atomics.add(c, ${READY}, 1);
  Atomics.notify(c, ${READY});
  for (;;) {
    // A moment of spinning before sleeping: the next job usually comes within microseconds (the calling
    // thread's norms and softmax between two matmuls), and a wake from Atomics.wait costs more than that.
    for (let i = 0; i < ${SPIN_CHECKS} && Atomics.load(c, ${GEN}) === seen; i++);
    Atomics.wait(c, ${GEN}, seen);
    seen = Atomics.load(c, ${GEN});
    try {
      if (c[${FN}] >= ${FIRST_ELEMENTWISE}) {
        const count = c[${COLUMNS}];
        const per = Math.ceil(count / c[${PARTS}]);
        const a = Math.min(count, init.index * per);
        const b = Math.min(count, (init.index + 1) * per);
        if (b > a) elementwise[c[${FN}] - ${FIRST_ELEMENTWISE}](c[${ARGS}], c[${ARGS + 1}], c[${ARGS + 2}], a, b);
      } else {
        const pairs = c[${COLUMNS}] / 2;
        const per = Math.ceil(pairs / c[${PARTS}]);
        const a = c[${J0}] + Math.min(pairs, init.index * per) * 2;
        const b = c[${J0}] + Math.min(pairs, (init.index + 1) * per) * 2;
        const panel = c[${ARGS + 7}] === 0 ? 0 : c[${ARGS + 7}] + init.index * c[${PANEL_STRIDE}];
        if (b > a) fns[c[${FN}]](c[${ARGS}], c[${ARGS + 1}], c[${ARGS + 2}], c[${ARGS + 3}], c[${ARGS + 4}], c[${ARGS + 5}], a, b, c[${ARGS + 6}], panel);
      }
    } catch (e) {
      Atomics.store(c, ${FAILED}, 1);
    }
    if (Atomics.sub(c, ${PENDING}, 1) === 1) Atomics.notify(c, ${PENDING});
  }
}
`;

/**
 * Below this many multiply-adds (≈ 0.1 ms on one thread) a matmul runs on the calling thread alone:
 * waking a helper and waiting for it costs more. Attention's per-head products over a context of 128
 * (1 M) stay on one thread: on two threads a 0.5 B Qwen2 shape went from medians of 55–60 to 65 tokens/s
 * (only this value was tried).
 */
const MIN_PARALLEL_WORK = 1 << 22;

/** Scratch for widening 16-bit weights: one panel per thread, `stride` bytes apart from `at`, each `stride` bytes. */
export interface KernelPanels {
  at: number;
  stride: number;
}

export class KernelThreads {
  private readonly exports: MatmulExports;
  private readonly threads: KernelThread[] = [];
  private readonly control: Int32Array;
  private canWait = true;
  private started = false;
  private readonly startTimeoutMs: number;

  /** Threads the constructor will run with this option (the calling one included): lay out that many panels. */
  static count(shared: boolean, option: KernelThreadsOption | undefined): number {
    return shared && option ? Math.max(1, Math.floor(option.count)) : 1;
  }

  /** `memory`'s first CONTROL_BYTES are the control block; `panels`, KernelThreads.count(…) of them, or none (16-bit weights are then widened in the inner loop). */
  constructor(
    readonly memory: WebAssembly.Memory,
    maximumPages: number,
    shared: boolean,
    option: KernelThreadsOption | undefined,
    private readonly panels: KernelPanels | null = null,
  ) {
    const initialPages = memory.buffer.byteLength / 65536;
    const module = new WebAssembly.Module(matmulModuleBytes({ initial: initialPages, maximum: maximumPages, shared }));
    this.exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as MatmulExports;
    this.control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
    this.control[PANEL_STRIDE] = panels?.stride ?? 0;
    this.startTimeoutMs = option?.startTimeoutMs ?? START_TIMEOUT_MS;
    const count = KernelThreads.count(shared, option);
    for (let index = 1; index < count; index++) {
      const thread = option!.spawn(KERNEL_THREAD_SOURCE);
      thread.start({ module, memory, index, control: 0 });
      this.threads.push(thread);
    }
  }

  /** Threads in all, the calling one included. */
  get count(): number {
    return this.threads.length + 1;
  }

  /**
   * y = x · Wᵀ over byte addresses in the memory: x [rows, k] f32 (rows a multiple of 4), W [m, k] of
   * `dtype`, y [rows, m] f32; only columns [j0, j1) of y (j1 − j0 ≥ 2), reading W's rows j0 … j1 − 1
   * (w may point before the memory's rows that are there: addresses wrap).
   */
  matmul(dtype: WeightDtype, x: number, w: number, y: number, rows: number, k: number, m: number, j0 = 0, j1 = m): void {
    const fn = this.exports[MATMUL_EXPORTS[dtype] as keyof MatmulExports];
    const panel = this.panels && dtype !== 'F32' && rows >= PANEL_MIN_ROWS && panelBytes(k) <= this.panels.stride ? this.panels.at : 0;
    const jb = blockRows(k, dtype, panel !== 0);
    const columns = (j1 - j0) & ~1;
    const work = rows * k * (j1 - j0);
    if (!this.started && this.threads.length > 0 && work >= MIN_PARALLEL_WORK) this.awaitHelpers();
    const parts = work < MIN_PARALLEL_WORK ? 1 : this.count;
    if (parts === 1) {
      fn(x, w, y, rows, k, m, j0, j0 + columns, jb, panel);
    } else {
      const c = this.control;
      c[FN] = FNS.indexOf(dtype);
      c.set([x, w, y, rows, k, m, jb, panel], ARGS);
      c[PARTS] = parts;
      c[COLUMNS] = columns;
      c[J0] = j0;
      Atomics.store(c, PENDING, parts - 1);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      const [a, b] = splitColumns(columns, parts, 0);
      if (b > a) fn(x, w, y, rows, k, m, j0 + a, j0 + b, jb, panel);
      this.waitForHelpers();
      if (Atomics.load(c, FAILED) !== 0) throw new Error('a CPU model thread failed in its matmul kernel');
    }
    // An odd last column: the pair (j1 − 2, j1 − 1) again, on this thread once the others are done.
    if (j1 - j0 !== columns) fn(x, w, y, rows, k, m, j1 - 2, j1, 2, panel);
  }

  /**
   * One of elementwiseKernel.ts's functions over [0, count) with its three arguments, split into equal
   * ranges over the threads (the calling one takes the first); on the calling thread alone when each
   * part would be under `minPerThread`.
   */
  elementwise(name: ElementwiseExport, args: readonly [number, number, number], count: number, minPerThread: number): void {
    const fn = this.exports[name];
    const parts = Math.max(1, Math.min(this.count, Math.floor(count / minPerThread)));
    if (parts > 1 && !this.started) this.awaitHelpers();
    if (parts === 1 || this.threads.length === 0) {
      fn(args[0], args[1], args[2], 0, count);
      return;
    }
    const c = this.control;
    c[FN] = FIRST_ELEMENTWISE + ELEMENTWISE_EXPORTS.indexOf(name);
    c.set(args, ARGS);
    c[PARTS] = parts;
    c[COLUMNS] = count;
    Atomics.store(c, PENDING, this.threads.length);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    fn(args[0], args[1], args[2], 0, Math.min(count, Math.ceil(count / parts)));
    this.waitForHelpers();
    if (Atomics.load(c, FAILED) !== 0) throw new Error('a CPU model thread failed in its elementwise work');
  }

  /**
   * Before the first job: every helper has started (a worker that cannot start — a blocked script, no
   * memory — never would, and its part would be waited for forever); else they are dropped and the
   * calling thread goes on alone.
   */
  private awaitHelpers(): void {
    const c = this.control;
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const ready = Atomics.load(c, READY);
      if (ready >= this.threads.length) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.dispose();
        break;
      }
      if (this.canWait) {
        try {
          Atomics.wait(c, READY, ready, Math.min(left, 100));
        } catch {
          this.canWait = false;
        }
      }
    }
    this.started = true;
  }

  private waitForHelpers(): void {
    const c = this.control;
    for (let i = 0; i < SPIN_CHECKS && Atomics.load(c, PENDING) !== 0; i++);
    for (;;) {
      const pending = Atomics.load(c, PENDING);
      if (pending === 0) return;
      if (this.canWait) {
        try {
          Atomics.wait(c, PENDING, pending);
          continue;
        } catch {
          this.canWait = false; // a browser's main thread may not block: spin instead
        }
      }
    }
  }

  dispose(): void {
    for (const t of this.threads) t.terminate();
    this.threads.length = 0;
  }
}
