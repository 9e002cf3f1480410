/**
 * Running a registry method's tensor (its TensorProgram: statistics passes, then the output pass) on a
 * worker thread. The program is closures and cannot travel between threads; what travels is what
 * built it — the method's name and the tensor's TensorContext, plain data — and the worker rebuilds
 * the same program with getMethod(method).program(context) and runs it with the same runner
 * (program/runProgram.ts) as the calling thread would: one copy of every method's arithmetic, and the
 * same bits whichever thread computes them.
 *
 * The worker reads the inputs itself (a file path it can open, ByteSource.path), so nothing but the
 * output crosses between threads. Output chunks come back in element order under a credit scheme:
 * the worker sends at most `credit` chunks ahead of what the caller has taken, so a tensor computed
 * ahead of the one being written holds a few chunks, not a whole tensor.
 */
import { CancelledError, InputError, isSoupLabError, throwIfAborted } from '../../errors';
import type { CheckpointTensor } from '../../formats/checkpoint';
import type { FloatDtype } from '../../formats/dtype';
import type { ByteSource, TensorInfo } from '../../formats/types';
import { getMethod } from '../methods/registry';
import { runTensorProgram, type ProgramTensor } from '../program/runProgram';
import type { TensorContext } from '../methods/types';

/** One input of a program as another thread opens it. */
export interface ProgramInputRef {
  /** A path the worker can open (ByteSource.path). */
  path: string;
  /** The source's name, for messages. */
  sourceName: string;
  /** The shard's name inside its checkpoint, for messages. */
  file: string;
  info: TensorInfo;
}

export interface ProgramStartRequest {
  kind: 'program';
  id: number;
  method: string;
  context: TensorContext;
  name: string;
  numel: number;
  outDtype: FloatDtype;
  inputs: ProgramInputRef[];
  maxChunkElements: number;
  /** Output chunks the worker may send before it hears of more credit. */
  credit: number;
}

export type ProgramWorkerRequest = ProgramStartRequest | { kind: 'credit'; id: number; chunks: number } | { kind: 'cancel'; id: number };

export type ProgramWorkerResponse =
  | { kind: 'chunk'; id: number; bytes: Uint8Array }
  | { kind: 'end'; id: number; error?: ProgramWorkerError };

/** A failure in the worker; `forPeople`: it was a SoupLabError (a message to show as it is). */
export interface ProgramWorkerError {
  name: string;
  message: string;
  forPeople: boolean;
}

/** What a worker needs from its platform: a way to answer, and to open an input by path. */
export interface ProgramWorkerEnv {
  post(msg: ProgramWorkerResponse, transfer: ArrayBuffer[]): void;
  openSource(path: string, name: string): Promise<ByteSource & { close?(): Promise<void> }>;
}

/** The inputs of `t` as references another thread can open, or undefined when one of them has no path. */
export function programInputRefs(t: ProgramTensor): ProgramInputRef[] | undefined {
  const refs: ProgramInputRef[] = [];
  for (const input of t.inputs) {
    const path = input.source.path;
    if (path === undefined) return undefined;
    refs.push({ path, sourceName: input.source.name, file: input.file, info: input.info });
  }
  return refs;
}

/** The worker's half: handles every request posted to it (several programs may be under way). */
export function programServer(env: ProgramWorkerEnv): (req: ProgramWorkerRequest) => void {
  const tasks = new Map<number, { credit: number; wake: (() => void) | undefined; abort: AbortController }>();
  const wake = (id: number) => {
    const task = tasks.get(id);
    const w = task?.wake;
    if (task) task.wake = undefined;
    w?.();
  };

  async function run(req: ProgramStartRequest): Promise<void> {
    const task = { credit: req.credit, wake: undefined as (() => void) | undefined, abort: new AbortController() };
    tasks.set(req.id, task);
    const signal = task.abort.signal;
    const opened: (ByteSource & { close?(): Promise<void> })[] = [];
    try {
      const program = getMethod(req.method).program(req.context);
      const byPath = new Map<string, ByteSource>();
      const inputs: CheckpointTensor[] = [];
      for (const ref of req.inputs) {
        let source = byPath.get(ref.path);
        if (!source) {
          const s = await env.openSource(ref.path, ref.sourceName);
          opened.push(s);
          byPath.set(ref.path, s);
          source = s;
        }
        inputs.push({ info: ref.info, source, file: ref.file });
      }
      const tensor: ProgramTensor = { name: req.name, numel: req.numel, outDtype: req.outDtype, inputs, program };
      for await (const chunk of runTensorProgram(tensor, { maxChunkElements: req.maxChunkElements, signal })) {
        while (task.credit <= 0 && !signal.aborted) await new Promise<void>((resolve) => (task.wake = resolve));
        throwIfAborted(signal);
        task.credit--;
        // A view on part of a larger buffer would transfer (and lose) the rest: send exactly the chunk.
        const bytes = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
        env.post({ kind: 'chunk', id: req.id, bytes }, [bytes.buffer as ArrayBuffer]);
      }
      env.post({ kind: 'end', id: req.id }, []);
    } catch (e) {
      const error: ProgramWorkerError = e instanceof Error ? { name: e.name, message: e.message, forPeople: isSoupLabError(e) } : { name: 'Error', message: String(e), forPeople: false };
      env.post({ kind: 'end', id: req.id, error }, []);
    } finally {
      tasks.delete(req.id);
      await Promise.all(opened.map((s) => s.close?.().catch(() => undefined)));
    }
  }

  return (req) => {
    if (req.kind === 'program') {
      void run(req);
    } else if (req.kind === 'credit') {
      const task = tasks.get(req.id);
      if (task) task.credit += req.chunks;
      wake(req.id);
    } else {
      tasks.get(req.id)?.abort.abort();
      wake(req.id);
    }
  };
}

/** The error a worker reported, as the calling thread throws it: errors for people stay errors for people. */
export function programError(error: ProgramWorkerError): Error {
  if (error.name === 'CancelledError') return new CancelledError(error.message);
  if (error.forPeople) return new InputError(error.message);
  return new Error(`CPU merge worker: ${error.name}: ${error.message}`);
}
