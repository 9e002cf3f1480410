/**
 * Messages between the CPU backend and its workers (worker_threads in Node, web workers in the
 * browser, or the in-thread stand-in). Two forms:
 * - shared: inputs and output are views on SharedArrayBuffers (Node; a cross-origin isolated page):
 *   the worker reads and writes them in place, nothing is copied or transferred; where they lie in a
 *   shared WebAssembly memory (an arena) the SIMD kernel works on them there without copying them
 *   into its own memory;
 * - packed: inputs travel packed in one transferable ArrayBuffer and the output comes back
 *   transferred, where no SharedArrayBuffer may be used.
 */
import type { KernelDtype, SoupMode } from '../kernel';
import { KERNEL_DTYPE_BYTES } from '../kernel';
import { computeSoupSpan, computeSoupSpanAt } from './fastKernel';
import { bindSimdArena, type ArenaAddresses } from './simdKernel';

interface SoupWorkerRequestCommon {
  id: number;
  mode: SoupMode;
  coefficients: Float32Array;
  outDtype: KernelDtype;
  count: number;
}

export interface PackedSoupRequest extends SoupWorkerRequestCommon {
  form: 'packed';
  /** Where each input's bytes sit in `packed`. */
  inputs: { dtype: KernelDtype; byteOffset: number }[];
  packed: ArrayBuffer;
  /** An output buffer handed back for reuse (exactly count × output size bytes), else the worker allocates. */
  out?: ArrayBuffer;
}

export interface SharedSoupRequest extends SoupWorkerRequestCommon {
  form: 'shared';
  /** Views on SharedArrayBuffers, `count` elements each. */
  inputs: { dtype: KernelDtype; bytes: Uint8Array }[];
  /** Where the result goes: a view on a SharedArrayBuffer of count × output size bytes. */
  out: Uint8Array;
  /**
   * A shared WebAssembly memory for this worker to bind (once per arena: the backend sends it with the
   * worker's first job there), and the byte where this worker's kernel scratch lies in it.
   */
  arena?: { id: number; memory: WebAssembly.Memory; scratch: number };
  /** Where inputs and output lie in that arena, when they do: then they are computed in place. */
  at?: ArenaAddresses;
}

export type SoupWorkerRequest = PackedSoupRequest | SharedSoupRequest;

export type SoupWorkerResponse =
  | { id: number; ok: true; form: 'packed'; out: ArrayBuffer; packed: ArrayBuffer }
  | { id: number; ok: true; form: 'shared' }
  | { id: number; ok: false; message: string };

/** Runs one request; the caller posts the response with `transfer` as its transfer list. */
export function handleSoupRequest(req: SoupWorkerRequest): { response: SoupWorkerResponse; transfer: ArrayBuffer[] } {
  try {
    if (req.form === 'shared') {
      if (req.arena) bindSimdArena(req.arena.id, req.arena.memory, req.arena.scratch);
      computeSoupSpanAt({ mode: req.mode, coefficients: req.coefficients, outDtype: req.outDtype, count: req.count, inputs: req.inputs }, req.out, req.at);
      return { response: { id: req.id, ok: true, form: 'shared' }, transfer: [] };
    }
    const outBytes = req.count * KERNEL_DTYPE_BYTES[req.outDtype];
    // Fresh large buffers cost page faults comparable to the arithmetic itself: reuse when offered.
    const out = req.out && req.out.byteLength === outBytes ? req.out : new ArrayBuffer(outBytes);
    computeSoupSpan(
      {
        mode: req.mode,
        coefficients: req.coefficients,
        outDtype: req.outDtype,
        count: req.count,
        inputs: req.inputs.map((inp) => ({ dtype: inp.dtype, bytes: new Uint8Array(req.packed, inp.byteOffset, req.count * KERNEL_DTYPE_BYTES[inp.dtype]) })),
      },
      new Uint8Array(out),
    );
    return { response: { id: req.id, ok: true, form: 'packed', out, packed: req.packed }, transfer: [out, req.packed] };
  } catch (e) {
    return { response: { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e) }, transfer: [] };
  }
}

/** One worker as the backend sees it, whatever runs it. */
export interface SoupWorkerPort {
  post(req: SoupWorkerRequest, transfer: ArrayBuffer[]): void;
  /** Called with every response, and with an Error when the worker itself fails (crash, bad script). */
  listen(onResponse: (r: SoupWorkerResponse) => void, onFailure: (e: Error) => void): void;
  /** Tells the environment whether this worker has work pending (Node: ref/unref, so the CLI can exit). */
  setBusy?(busy: boolean): void;
  terminate(): Promise<void>;
}

export type WorkerSpawner = () => SoupWorkerPort;

/**
 * Runs the kernel on the calling thread, one request per macrotask: where no worker can be started
 * (tests on source files, environments without workers). Same protocol, same results.
 */
export const inThreadSpawner: WorkerSpawner = () => {
  let respond: ((r: SoupWorkerResponse) => void) | undefined;
  return {
    post(req) {
      setTimeout(() => respond?.(handleSoupRequest(req).response), 0);
    },
    listen(onResponse) {
      respond = onResponse;
    },
    async terminate() {
      respond = undefined;
    },
  };
};
