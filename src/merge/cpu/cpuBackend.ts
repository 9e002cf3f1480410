/**
 * The CPU soup backend: splits each job into parts, one per worker. Where the job's inputs and output
 * are views on SharedArrayBuffers (Node; a cross-origin isolated page) each worker reads and writes
 * its part in place: no byte is copied between threads. Otherwise it packs each part's input slices
 * into one transferable buffer and joins the workers' outputs. Concurrent run() calls share the
 * workers; at most two parts wait per worker, which bounds the memory held by copies in flight.
 */
import { CancelledError, SoupLabError } from '../../errors';
import type { SoupBackend, SoupJob } from '../kernel';
import { KERNEL_DTYPE_BYTES, validateSoupJob } from '../kernel';
import type { SharedSoupRequest, SoupWorkerPort, SoupWorkerRequest, SoupWorkerResponse, WorkerSpawner } from './protocol';
import { createSharedArena, SIMD_ARENA_SCRATCH_BYTES } from './simdKernel';
import { Semaphore } from '../../util/semaphore';
import { runTensorProgram } from '../program/runProgram';
import type { ProgramPool } from './programPool';

export interface CpuSoupBackendOptions {
  workers: number;
  spawn: WorkerSpawner;
  /** Largest job accepted; default 32 Mi elements (a 64 MB BF16 chunk per input). */
  maxChunkElements?: number;
  /** Jobs smaller than this go to one worker whole; default 256 Ki elements. */
  minPartElements?: number;
  description?: string;
  /**
   * Workers for method tensors (registry methods' programs), when the platform has them: each tensor
   * runs whole on one worker, several tensors at once. Without, programs run on the calling thread.
   */
  programs?: ProgramPool;
}

/** A worker failed (crashed, or its script could not load): the merge cannot go on. */
export class CpuWorkerError extends SoupLabError {
  override name = 'CpuWorkerError';
}

interface Pending {
  resolve(out: ArrayBuffer | undefined): void;
  reject(e: Error): void;
}

class WorkerSlot {
  port: SoupWorkerPort | undefined;
  readonly pending = new Map<number, Pending>();
  /** Input buffers handed back by the worker, reused for the next parts of similar size. */
  spare: ArrayBuffer | undefined;
  /** Output buffers of split jobs, already copied into the joined result: reused by the next parts. */
  spareOut: ArrayBuffer | undefined;
  /** The arena this worker was last sent (it binds one at a time); reset with a fresh worker. */
  arenaId: number | undefined;

  constructor(
    private readonly spawn: WorkerSpawner,
    /** Where this worker's kernel scratch lies in every arena. */
    readonly scratch: number,
  ) {}

  get load(): number {
    return this.pending.size;
  }

  send(req: SoupWorkerRequest): Promise<ArrayBuffer | undefined> {
    const port = this.ensurePort();
    return new Promise<ArrayBuffer | undefined>((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      port.setBusy?.(true);
      port.post(req, req.form === 'shared' ? [] : req.out ? [req.packed, req.out] : [req.packed]);
    });
  }

  ensurePort(): SoupWorkerPort {
    if (this.port) return this.port;
    const port = this.spawn();
    this.arenaId = undefined;
    port.listen(
      (r: SoupWorkerResponse) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (this.pending.size === 0) port.setBusy?.(false);
        if (r.ok && r.form === 'packed') {
          this.spare = r.packed;
          p.resolve(r.out);
        } else if (r.ok) {
          p.resolve(undefined);
        } else {
          p.reject(new CpuWorkerError(`CPU merge worker failed: ${r.message}`));
        }
      },
      (e: Error) => {
        // The worker is gone: fail what it held, start a fresh one for later work.
        const failed = [...this.pending.values()];
        this.pending.clear();
        this.port = undefined;
        void port.terminate();
        for (const p of failed) p.reject(new CpuWorkerError(`CPU merge worker stopped: ${e.message}`));
      },
    );
    this.port = port;
    return port;
  }

  takeSpare(minBytes: number): ArrayBuffer {
    const s = this.spare;
    if (s && s.byteLength >= minBytes && s.byteLength <= minBytes * 2) {
      this.spare = undefined;
      return s;
    }
    return new ArrayBuffer(minBytes);
  }
}


/** A shared WebAssembly memory whose slabs one merge at a time works in (sharedSlabs). */
interface Arena {
  id: number;
  memory: WebAssembly.Memory;
  size: number;
  /** Handed to a merge and not yet released. */
  lent: boolean;
  /** Jobs sent to workers there and not yet answered. */
  outstanding: number;
}

/**
 * Arena ids, unique in this thread: every backend made here numbers from the same count, as the
 * in-thread stand-in for workers binds them all in this thread's one kernel.
 */
let nextArenaId = 1;

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

const isShared = (v: Uint8Array | undefined): v is Uint8Array => typeof SharedArrayBuffer !== 'undefined' && v?.buffer instanceof SharedArrayBuffer;

/** `work`, or CancelledError as soon as the signal fires (the worker's late answer is dropped). */
function untilAborted<T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function createCpuSoupBackend(opts: CpuSoupBackendOptions): SoupBackend {
  const workerCount = Math.max(1, Math.floor(opts.workers));
  const slots = Array.from({ length: workerCount }, (_, k) => new WorkerSlot(opts.spawn, k * SIMD_ARENA_SCRATCH_BYTES));
  /** Shared WebAssembly memories made by sharedSlabs(), by their buffer; the workers' scratch first. */
  const arenas = new WeakMap<SharedArrayBuffer, Arena>();
  /** The arena the next merge gets when it is free: one for the backend's life, not one per merge. */
  let kept: Arena | undefined;
  const maxChunkElements = opts.maxChunkElements ?? 32 * 1024 * 1024;
  const minPart = Math.max(1024, opts.minPartElements ?? 256 * 1024);
  const places = new Semaphore(workerCount * 2);
  let nextId = 1;
  let disposed = false;

  /** Runs elements [start, start + count) of a job in shared memory, in place, on the least loaded worker. */
  async function runSharedPart(job: SoupJob, out: Uint8Array, start: number, count: number, signal: AbortSignal | undefined): Promise<void> {
    await places.acquire();
    try {
      if (signal?.aborted) throw new CancelledError();
      if (disposed) throw new CpuWorkerError('the CPU backend was disposed');
      const slot = slots.reduce((a, b) => (b.load < a.load ? b : a));
      const ow = KERNEL_DTYPE_BYTES[job.outDtype];
      const inputs = job.inputs.map((inp) => {
        const w = KERNEL_DTYPE_BYTES[inp.dtype];
        return { dtype: inp.dtype, bytes: inp.bytes.subarray(start * w, (start + count) * w) };
      });
      const req: SharedSoupRequest = { form: 'shared', id: nextId++, mode: job.mode, coefficients: job.coefficients, outDtype: job.outDtype, count, inputs, out: out.subarray(start * ow, (start + count) * ow) };
      const arena = arenas.get(out.buffer as SharedArrayBuffer);
      if (arena && inputs.every((inp) => inp.bytes.buffer === out.buffer)) {
        if (slot.arenaId !== arena.id) {
          req.arena = { id: arena.id, memory: arena.memory, scratch: slot.scratch };
          slot.arenaId = arena.id;
        }
        req.at = { arena: arena.id, inputs: inputs.map((inp) => inp.bytes.byteOffset), out: req.out.byteOffset };
      }
      const sent = slot.send(req);
      if (arena) {
        // Counted until the worker answers (a cancelled job's worker may still be writing there).
        arena.outstanding++;
        const done = (): void => void arena.outstanding--;
        sent.then(done, done);
      }
      await untilAborted(signal, sent);
    } finally {
      places.release();
    }
  }

  /** Runs elements [start, start + count) on the least loaded worker; `split` offers a reusable output buffer. */
  async function runPart(job: SoupJob, start: number, count: number, signal: AbortSignal | undefined, split: boolean): Promise<{ out: ArrayBuffer; slot: WorkerSlot }> {
    await places.acquire();
    try {
      if (signal?.aborted) throw new CancelledError();
      if (disposed) throw new CpuWorkerError('the CPU backend was disposed');
      const layout: { dtype: SoupJob['inputs'][number]['dtype']; byteOffset: number }[] = [];
      let size = 0;
      for (const inp of job.inputs) {
        layout.push({ dtype: inp.dtype, byteOffset: size });
        size = align8(size + count * KERNEL_DTYPE_BYTES[inp.dtype]);
      }
      const slot = slots.reduce((a, b) => (b.load < a.load ? b : a));
      const packed = slot.takeSpare(size);
      const bytes = new Uint8Array(packed);
      job.inputs.forEach((inp, i) => {
        const w = KERNEL_DTYPE_BYTES[inp.dtype];
        bytes.set(inp.bytes.subarray(start * w, (start + count) * w), layout[i].byteOffset);
      });
      const outBytes = count * KERNEL_DTYPE_BYTES[job.outDtype];
      let reuse: ArrayBuffer | undefined;
      if (split && slot.spareOut?.byteLength === outBytes) {
        reuse = slot.spareOut;
        slot.spareOut = undefined;
      }
      const out = await untilAborted(
        signal,
        slot.send({ form: 'packed', id: nextId++, mode: job.mode, coefficients: job.coefficients, outDtype: job.outDtype, count, inputs: layout, packed, out: reuse }),
      );
      if (!out) throw new CpuWorkerError('CPU merge worker answered a packed job without its output');
      return { out, slot };
    } finally {
      places.release();
    }
  }

  return {
    kind: 'cpu',
    description: opts.description ?? `CPU, ${workerCount} worker thread${workerCount === 1 ? '' : 's'}`,
    maxChunkElements,
    sharedMemory: typeof SharedArrayBuffer !== 'undefined',
    ...(opts.programs && {
      programsAhead: opts.programs.workers,
      runProgram(tensor, o) {
        return opts.programs?.start(tensor, o) ?? runTensorProgram(tensor, o);
      },
    }),
    sharedSlabs(bytes: number, count: number) {
      if (disposed || count < 1) return undefined;
      // The workers' scratch, then the slabs on page boundaries, then room for the kernel's reads
      // past a span's end (8 lanes of 4 bytes).
      const page = (n: number) => Math.ceil(n / 4096) * 4096;
      const stride = page(bytes);
      const first = page(workerCount * SIMD_ARENA_SCRATCH_BYTES);
      const size = first + stride * count + 64;
      // Lent to one merge at a time, and reused only once no worker is still writing into it.
      let arena = kept && !kept.lent && kept.outstanding === 0 && kept.size >= size ? kept : undefined;
      if (!arena) {
        const memory = createSharedArena(size);
        if (!memory) return undefined;
        arena = { id: nextArenaId++, memory, size, lent: false, outstanding: 0 };
        arenas.set(memory.buffer as unknown as SharedArrayBuffer, arena);
        if (!kept?.lent) kept = arena;
      }
      const lent = arena;
      lent.lent = true;
      const buffer = lent.memory.buffer;
      return {
        slabs: Array.from({ length: count }, (_, k) => new Uint8Array(buffer, first + k * stride, bytes)),
        release: () => void (lent.lent = false),
      };
    },
    warm(): void {
      if (!disposed) for (const s of slots) s.ensurePort();
    },
    async run(job: SoupJob, signal?: AbortSignal): Promise<Uint8Array> {
      if (disposed) throw new CpuWorkerError('the CPU backend was disposed');
      if (signal?.aborted) throw new CancelledError();
      validateSoupJob(job);
      const n = job.elementCount;
      if (n > maxChunkElements) throw new CpuWorkerError(`soup job of ${n} elements exceeds the backend's chunk limit of ${maxChunkElements}`);
      const outSize = KERNEL_DTYPE_BYTES[job.outDtype];
      if (n === 0) return new Uint8Array(0);
      // Split a job only over workers that are idle: when the caller keeps several jobs in flight,
      // whole jobs per worker avoid joining parts, and the worker's output is the result as is.
      const idle = slots.filter((s) => s.load === 0).length;
      const parts = Math.max(1, Math.min(idle, Math.floor(n / minPart)));
      const per = Math.ceil(n / parts / 1024) * 1024;
      const ranges: [number, number][] = [];
      for (let s = 0; s < n; s += per) ranges.push([s, Math.min(per, n - s)]);
      const out = job.output;
      if (isShared(out) && out.length === n * outSize && job.inputs.every((inp) => isShared(inp.bytes))) {
        await Promise.all(ranges.map(([s, c]) => runSharedPart(job, out, s, c, signal)));
        return out;
      }
      if (parts === 1) return new Uint8Array((await runPart(job, 0, n, signal, false)).out);
      const outs = await Promise.all(ranges.map(([s, c]) => runPart(job, s, c, signal, true)));
      const result = new Uint8Array(n * outSize);
      outs.forEach(({ out, slot }, k) => {
        result.set(new Uint8Array(out), ranges[k][0] * outSize);
        slot.spareOut = out;
      });
      return result;
    },
    async dispose(): Promise<void> {
      disposed = true;
      await opts.programs?.dispose();
      await Promise.all(
        slots.map(async (s) => {
          for (const p of s.pending.values()) p.reject(new CpuWorkerError('the CPU backend was disposed'));
          s.pending.clear();
          const port = s.port;
          s.port = undefined;
          await port?.terminate();
        }),
      );
    },
  };
}
