/**
 * The calling thread's half of programProtocol.ts: worker threads that run method tensors, one tensor
 * per worker at a time. start() hands a tensor to a free worker at once (or queues it), so a merge can
 * start the next tensors while it writes the current one; the output chunks are taken in order through
 * the returned iterator, and each chunk taken lets the worker send one more.
 *
 * Memory: per tensor started, at most AHEAD_BYTES of output wait here, plus what its worker holds
 * (two chunks of every input, raw and decoded, and one output chunk, and — for a program with a
 * scratch, karcher — 4 bytes per element of the tensor, allocated by the worker's runner and dropped
 * when the tensor ends).
 */
import { CancelledError } from '../../errors';
import type { ProgramTensor } from '../program/runProgram';
import { programError, programInputRefs, type ProgramWorkerRequest, type ProgramWorkerResponse } from './programProtocol';

/** One program worker as the pool sees it, whatever runs it. */
export interface ProgramWorkerPort {
  post(req: ProgramWorkerRequest): void;
  /** Called with every response, and with an Error when the worker itself fails (crash, bad script). */
  listen(onResponse: (r: ProgramWorkerResponse) => void, onFailure: (e: Error) => void): void;
  /** Whether this worker has work pending (Node: ref/unref, so the CLI can exit). */
  setBusy?(busy: boolean): void;
  terminate(): Promise<void>;
}

export type ProgramWorkerSpawner = () => ProgramWorkerPort;

/**
 * Output a worker may send ahead of what the caller has taken, in bytes (at least 2 chunks): enough
 * that a worker computing a tensor ahead of the one being written rarely waits on credit (a 5632 ×
 * 2048 BF16 tensor is 23 MB), bounded whatever the tensor's size.
 */
const AHEAD_BYTES = 48 << 20;
const OUT_BYTES: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

interface Task {
  id: number;
  request: Extract<ProgramWorkerRequest, { kind: 'program' }>;
  slot: Slot | undefined;
  chunks: Uint8Array[];
  done: boolean;
  error: Error | undefined;
  cancelled: boolean;
  wake: (() => void) | undefined;
}

interface Slot {
  port: ProgramWorkerPort | undefined;
  task: Task | undefined;
}

export class ProgramPool {
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private disposed = false;
  /** Tensors handed to the workers so far (for progress reports and tests). */
  tensorsStarted = 0;

  constructor(
    readonly workers: number,
    private readonly spawn: ProgramWorkerSpawner,
  ) {
    this.slots = Array.from({ length: Math.max(1, workers) }, () => ({ port: undefined, task: undefined }));
  }

  /**
   * Starts `t` on a worker now or as soon as one is free, if another thread can run it (its method and
   * context are known and every input has a path); else undefined.
   */
  start(t: ProgramTensor, opts: { maxChunkElements: number; signal?: AbortSignal }): AsyncIterableIterator<Uint8Array> | undefined {
    const inputs = programInputRefs(t);
    if (!inputs || t.method === undefined || t.context === undefined || this.disposed) return undefined;
    const id = this.nextId++;
    this.tensorsStarted++;
    const chunkBytes = Math.max(1, Math.min(opts.maxChunkElements, t.numel)) * OUT_BYTES[t.outDtype];
    const credit = Math.max(2, Math.floor(AHEAD_BYTES / chunkBytes));
    const task: Task = {
      id,
      request: { kind: 'program', id, method: t.method, context: t.context, name: t.name, numel: t.numel, outDtype: t.outDtype, inputs, maxChunkElements: opts.maxChunkElements, credit },
      slot: undefined,
      chunks: [],
      done: false,
      error: undefined,
      cancelled: false,
      wake: undefined,
    };
    const free = this.slots.find((s) => !s.task);
    if (free) this.assign(free, task);
    else this.queue.push(task);
    return this.iterate(task, opts.signal);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const task of [...this.queue, ...this.slots.map((s) => s.task)]) if (task) this.fail(task, new CancelledError('the CPU backend was disposed'));
    this.queue.length = 0;
    await Promise.all(
      this.slots.map(async (s) => {
        const port = s.port;
        s.port = undefined;
        s.task = undefined;
        await port?.terminate();
      }),
    );
  }

  private iterate(task: Task, signal: AbortSignal | undefined): AsyncIterableIterator<Uint8Array> {
    const onAbort = () => this.cancel(task, new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => signal?.removeEventListener('abort', onAbort);
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: async () => {
        for (;;) {
          if (task.error) {
            finish();
            throw task.error;
          }
          const chunk = task.chunks.shift();
          if (chunk) {
            if (!task.done && task.slot) task.slot.port?.post({ kind: 'credit', id: task.id, chunks: 1 });
            return { done: false, value: chunk };
          }
          if (task.done) {
            finish();
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (task.wake = resolve));
        }
      },
      return: async () => {
        finish();
        this.cancel(task, new CancelledError());
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private assign(slot: Slot, task: Task): void {
    slot.task = task;
    task.slot = slot;
    const port = this.portOf(slot);
    port.setBusy?.(true);
    port.post(task.request);
  }

  private portOf(slot: Slot): ProgramWorkerPort {
    if (slot.port) return slot.port;
    const port = this.spawn();
    port.listen(
      (r) => {
        const task = slot.task;
        if (!task || task.id !== r.id) return; // the answer of a task cancelled meanwhile
        if (r.kind === 'chunk') {
          if (!task.cancelled) task.chunks.push(r.bytes);
        } else {
          if (r.error && !task.cancelled) task.error = programError(r.error);
          task.done = true;
          this.release(slot);
        }
        this.wakeTask(task);
      },
      (e) => {
        // The worker is gone: fail its task, start a fresh worker for later ones.
        slot.port = undefined;
        void port.terminate();
        const task = slot.task;
        if (task) this.fail(task, new Error(`CPU merge worker stopped: ${e.message}`));
        this.release(slot);
      },
    );
    slot.port = port;
    return port;
  }

  /** The slot's task is over: the next queued one takes the worker. */
  private release(slot: Slot): void {
    slot.task = undefined;
    const next = this.queue.shift();
    if (next) this.assign(slot, next);
    else slot.port?.setBusy?.(false);
  }

  private cancel(task: Task, error: Error): void {
    if (task.done || task.cancelled) return;
    task.cancelled = true;
    task.chunks.length = 0;
    const queued = this.queue.indexOf(task);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      task.done = true;
    } else {
      task.slot?.port?.post({ kind: 'cancel', id: task.id });
    }
    task.error ??= error;
    this.wakeTask(task);
  }

  private fail(task: Task, error: Error): void {
    task.error ??= error;
    task.done = true;
    this.wakeTask(task);
  }

  private wakeTask(task: Task): void {
    const w = task.wake;
    task.wake = undefined;
    w?.();
  }
}
