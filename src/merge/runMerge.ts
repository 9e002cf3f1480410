/**
 * Runs a MergePlan: streams every tensor through the backend in chunks and into a SafetensorsWriter,
 * then re-reads the headers of what it wrote. Memory is bounded by (jobs in flight) × (bytes per
 * job), whatever the model's size.
 *
 * Pipelining: the chunks of all inputs are read concurrently, handed to the backend without waiting,
 * and written in order by a chain of appends, so reading chunk k+1, computing chunk k and writing
 * chunk k−1 overlap. At most `maxJobsInFlight` chunks exist at a time.
 *
 * All or nothing: a failure or a cancellation aborts the writer (the target removes what it wrote)
 * and rethrows; nothing half-written becomes visible.
 */
import { CancelledError, InputError, throwIfAborted } from '../errors';
import type { CheckpointTensor } from '../formats/checkpoint';
import { decodeToF32 } from '../formats/floatArrays';
import { readHeader } from '../formats/header';
import { readTensorChunks } from '../formats/tensorChunks';
import type { ByteSource } from '../formats/types';
import { SafetensorsWriter, type OutputTarget, type OutputTensorSpec } from '../formats/writer';
import { KERNEL_DTYPE_BYTES, type KernelDtype, type SoupBackend, type SoupJob } from './kernel';
import type { CopyStep, MergePlan, MethodStep, SoupStep } from './plan';
import { runTensorProgram } from './program/runProgram';
import { numelOf, type FloatDtype } from '../formats/dtype';
import { soupF64 } from './f64Soup';
import { SlabPool, sharedMemoryUsable } from './sharedSlabs';

export interface MergeProgress {
  tensorsDone: number;
  tensorsTotal: number;
  /** Input bytes merged (read, computed and written). */
  bytesDone: number;
  bytesTotal: number;
  /** Tensor bytes written to the output. */
  outputBytesDone: number;
  elapsedSeconds: number;
  /** Input bytes per second so far. */
  bytesPerSecond: number;
  /** Estimated seconds left; undefined until something is done. */
  etaSeconds: number | undefined;
  /** The tensor being written. */
  tensor: string;
}

export interface ExtraOutputFile {
  name: string;
  data: Uint8Array | ByteSource;
}

export interface RunMergeOptions {
  backend: SoupBackend;
  target: OutputTarget;
  /** Stored in the output's __metadata__ as "souplab.recipe". */
  recipeYaml?: string;
  /** More __metadata__ entries ("format": "pt" is always there). */
  metadata?: Record<string, string>;
  /** Shard limit in bytes (default 5 GB; Infinity = one file). */
  maxShardBytes?: number;
  /** Files written into the target beside the model (recipe.yaml, config.json, tokenizer…). */
  extraFiles?: ExtraOutputFile[];
  /**
   * Opens a written file again once committed, so its header can be checked. Without it the output is
   * not re-validated and the result says so.
   */
  readBack?: (fileName: string) => Promise<ByteSource>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Chunks alive at once (read, computing, or waiting to be written); default 6. */
  maxJobsInFlight?: number;
  /**
   * Upper bound on the bytes one job holds (all inputs + output); default 16 MiB. With 6 in flight that
   * bounds the chunks to ~100 MB whatever the model, and on the CPU backend it measured at least as fast
   * as larger jobs (bench merge).
   */
  maxJobBytes?: number;
}

export interface MergeResult {
  files: string[];
  tensors: number;
  bytesRead: number;
  bytesWritten: number;
  seconds: number;
  /** True when every written header was re-read and matched the plan. */
  verified: boolean;
}

const COPY_CHUNK_BYTES = 16 << 20;

/** Merges according to `plan` into `opts.target`. Resolves once the output is committed and verified. */
export async function runMerge(plan: MergePlan, opts: RunMergeOptions): Promise<MergeResult> {
  const { backend, target, signal } = opts;
  throwIfAborted(signal);
  const started = performance.now();
  const specs: OutputTensorSpec[] = plan.steps.map((s) =>
    s.kind === 'copy' ? { name: s.name, dtype: s.dtype, shape: s.shape } : { name: s.name, dtype: s.outDtype, shape: s.shape },
  );
  const metadata: Record<string, string> = { format: 'pt', ...(opts.metadata ?? {}) };
  if (opts.recipeYaml !== undefined) metadata['souplab.recipe'] = opts.recipeYaml;
  const writer = await SafetensorsWriter.create(target, specs, { metadata, maxShardBytes: opts.maxShardBytes });

  const maxInFlight = Math.max(1, opts.maxJobsInFlight ?? 6);
  const maxJobBytes = Math.max(1 << 16, opts.maxJobBytes ?? 16 << 20);
  const progress: MergeProgress = {
    tensorsDone: 0,
    tensorsTotal: plan.steps.length,
    bytesDone: 0,
    bytesTotal: plan.inputBytes,
    outputBytesDone: 0,
    elapsedSeconds: 0,
    bytesPerSecond: 0,
    etaSeconds: undefined,
    tensor: '',
  };
  const report = (tensor: string, inputBytes: number, outputBytes: number, tensorDone: boolean) => {
    progress.bytesDone += inputBytes;
    progress.outputBytesDone += outputBytes;
    if (tensorDone) progress.tensorsDone++;
    progress.tensor = tensor;
    progress.elapsedSeconds = (performance.now() - started) / 1000;
    progress.bytesPerSecond = progress.elapsedSeconds > 0 ? progress.bytesDone / progress.elapsedSeconds : 0;
    progress.etaSeconds = progress.bytesDone > 0 ? (progress.elapsedSeconds * (progress.bytesTotal - progress.bytesDone)) / progress.bytesDone : undefined;
    opts.onProgress?.({ ...progress });
  };

  // The ordered write chain and the window of chunks in flight.
  let chain: Promise<void> = Promise.resolve();
  const window: Promise<void>[] = [];
  const enqueue: Enqueue = async (tensor, result, inputBytes, last, release) => {
    result.catch(() => undefined); // awaited by the chain; a rejection must not go unhandled meanwhile
    const done = chain.then(async () => {
      const bytes = await result;
      await writer.append(tensor, bytes);
      release?.();
      report(tensor, inputBytes, bytes.length, last);
    });
    done.catch(() => undefined);
    chain = done;
    window.push(done);
    while (window.length >= maxInFlight) await window.shift();
  };

  // Shared slabs where the backend works in shared memory: one per job in flight, reused.
  const slabBytes = maxJobBytes + 64 * 8;
  const shared = backend.sharedMemory && sharedMemoryUsable();
  // At most maxInFlight slabs are taken at once (enqueue waits for the window): the backend's own.
  const lent = shared ? backend.sharedSlabs?.(slabBytes, maxInFlight) : undefined;
  const slabs = shared ? new SlabPool(slabBytes, lent?.slabs) : undefined;
  // Method tensors started ahead of the one being written, where the backend runs them elsewhere
  // (programsAhead): while the main thread writes tensor k, workers compute k + 1, k + 2….
  const ahead = Math.max(0, Math.floor(backend.programsAhead ?? 0));
  const startedEarly = new Map<MethodStep, AsyncIterableIterator<Uint8Array>>();
  try {
    for (let s = 0; s < plan.steps.length; s++) {
      const step = plan.steps[s];
      throwIfAborted(signal);
      for (let k = s; ahead > 0 && k < plan.steps.length && k <= s + ahead; k++) {
        const next = plan.steps[k];
        if (next.kind === 'method' && !startedEarly.has(next)) startedEarly.set(next, methodOutputs(next, backend, maxJobBytes, signal));
      }
      if (step.kind === 'copy') await copyTensor(step, enqueue, signal);
      else if (step.kind === 'method') {
        const outputs = startedEarly.get(step);
        startedEarly.delete(step);
        await methodTensor(step, outputs ?? methodOutputs(step, backend, maxJobBytes, signal), enqueue);
      }
      else if (slabs && inSharedMemory(step)) await soupTensorShared(step, backend, maxJobBytes, slabs, enqueue, signal);
      else await soupTensor(step, backend, maxJobBytes, enqueue, signal);
    }
    await chain;
    throwIfAborted(signal);
    for (const extra of opts.extraFiles ?? []) await writeExtra(target, extra, signal);
    throwIfAborted(signal);
    await writer.finish();
  } catch (e) {
    await Promise.allSettled([...startedEarly.values()].map((it) => it.return?.()));
    await Promise.allSettled(window);
    await writer.abort().catch(() => undefined);
    if (signal?.aborted) throw e instanceof CancelledError ? e : new CancelledError();
    throw e;
  } finally {
    lent?.release();
  }

  let verified = false;
  if (opts.readBack) {
    const readBack = opts.readBack;
    await verifyUnlessReplaced(target, () => verifyOutput(plan, specs, writer.files, readBack, metadata));
    verified = true;
  }
  return {
    files: writer.files,
    tensors: plan.steps.length,
    bytesRead: plan.inputBytes,
    bytesWritten: writer.bytesWritten,
    seconds: (performance.now() - started) / 1000,
    verified,
  };
}

/** Queues one piece of a tensor for writing, in order; `release` runs once it is written. */
type Enqueue = (tensor: string, result: Promise<Uint8Array>, inputBytes: number, last: boolean, release?: () => void) => Promise<void>;

async function copyTensor(step: CopyStep, enqueue: Enqueue, signal: AbortSignal | undefined): Promise<void> {
  const total = step.source.info.byteLength;
  if (total === 0) {
    await enqueue(step.name, Promise.resolve(new Uint8Array(0)), 0, true);
    return;
  }
  let done = 0;
  for await (const chunk of readTensorChunks(step.source, { chunkBytes: COPY_CHUNK_BYTES, signal })) {
    done += chunk.length;
    await enqueue(step.name, Promise.resolve(chunk), chunk.length, done === total);
  }
}

/**
 * A registry method's tensor: its statistics passes and output pass, on the backend's runProgram where
 * it has one (WebGPU), else on the CPU here; output chunks join the same ordered write chain.
 */
async function methodTensor(step: MethodStep, outputs: AsyncIterable<Uint8Array>, enqueue: Enqueue): Promise<void> {
  const numel = numelOf(step.shape);
  if (numel === 0) {
    await enqueue(step.name, Promise.resolve(new Uint8Array(0)), 0, true);
    return;
  }
  const inputBytesPerElement = step.inputs.reduce((s, t) => s + INPUT_BYTES[t.info.dtype], 0) * (step.program.passes.length + 1);
  let done = 0;
  for await (const bytes of outputs) {
    const count = bytes.length / INPUT_BYTES[step.outDtype];
    done += count;
    await enqueue(step.name, Promise.resolve(bytes), count * inputBytesPerElement, done === numel);
  }
}

/**
 * A method step's output bytes, chunk by chunk in element order: the backend's runProgram where it has
 * one (WebGPU), else the CPU program. Also what the in-memory soup (soupWeights.ts) decodes.
 */
export function methodOutputs(step: MethodStep, backend: SoupBackend, maxJobBytes: number, signal: AbortSignal | undefined): AsyncIterableIterator<Uint8Array> {
  // f32 copies of every input plus the output, per element.
  const perElement = 4 * (step.inputs.length + 1) + INPUT_BYTES[step.outDtype];
  const maxChunkElements = Math.max(1024, Math.floor(maxJobBytes / perElement));
  const tensor = { name: step.name, numel: numelOf(step.shape), outDtype: step.outDtype, inputs: step.inputs, program: step.program, method: step.method, context: step.context };
  return backend.runProgram ? backend.runProgram(tensor, { maxChunkElements, signal }) : runTensorProgram(tensor, { maxChunkElements, signal });
}

export const INPUT_BYTES: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** The element count of one job: within the backend's limit and the memory budget, a multiple of 4. */
export function chunkElementsFor(step: SoupStep, backend: SoupBackend, maxJobBytes: number): number {
  // An F64 output is computed on the host with every input decoded to f64; the others by the backend,
  // with F64 inputs decoded to f32.
  const f64 = step.outDtype === 'F64';
  let perElement = step.outDtype === 'F64' ? 8 : KERNEL_DTYPE_BYTES[step.outDtype];
  for (const t of step.inputs) perElement += INPUT_BYTES[t.info.dtype] + (f64 ? 8 : t.info.dtype === 'F64' ? 4 : 0);
  const byMemory = Math.floor(maxJobBytes / perElement);
  const n = Math.min(byMemory, backend.maxChunkElements);
  // A multiple of 4 elements is a multiple of 8 bytes in every float dtype: every input's chunks line up.
  return Math.max(4, n - (n % 4));
}

/**
 * A soup step's inputs, chunk by chunk in element order: `count` elements of every input, checked. The
 * one chunk producer of the merge (soupTensor) and of the in-memory soup (soupWeights.ts).
 */
export async function* soupInputChunks(step: SoupStep, backend: SoupBackend, maxJobBytes: number, signal: AbortSignal | undefined): AsyncGenerator<{ count: number; bytes: Uint8Array[] }> {
  const numel = numelOf(step.shape);
  const chunkElements = chunkElementsFor(step, backend, maxJobBytes);
  const readers = step.inputs.map((t) => readTensorChunks(t, { chunkBytes: chunkElements * INPUT_BYTES[t.info.dtype], signal }));
  try {
    for (let done = 0; done < numel; ) {
      throwIfAborted(signal);
      const pieces = await Promise.all(readers.map((r) => r.next()));
      const count = Math.min(chunkElements, numel - done);
      done += count;
      yield { count, bytes: pieces.map((p, i) => checkedChunk(step.inputs[i], p.done ? undefined : p.value, count)) };
    }
  } finally {
    await Promise.all(readers.map((r) => r.return(undefined)));
  }
}

async function soupTensor(step: SoupStep, backend: SoupBackend, maxJobBytes: number, enqueue: Enqueue, signal: AbortSignal | undefined): Promise<void> {
  const numel = numelOf(step.shape);
  if (numel === 0) {
    await enqueue(step.name, Promise.resolve(new Uint8Array(0)), 0, true);
    return;
  }
  let done = 0;
  for await (const { count, bytes } of soupInputChunks(step, backend, maxJobBytes, signal)) {
    let result: Promise<Uint8Array>;
    const outDtype = step.outDtype;
    if (outDtype === 'F64') {
      // f32 arithmetic would lose what F64 holds: computed here in f64, on every backend.
      const inputs = bytes.map((b, i) => ({ dtype: step.inputs[i].info.dtype as FloatDtype, bytes: b }));
      result = Promise.resolve().then(() => soupF64(step.mode, step.exactCoefficients, inputs, count));
    } else {
      const inputs = bytes.map((b, i) => toKernelInput(step.inputs[i], b));
      const job: SoupJob = { mode: step.mode, coefficients: step.coefficients, inputs, outDtype, elementCount: count };
      result = backend.run(job, signal);
    }
    const inputBytes = step.inputs.reduce((s, t) => s + count * INPUT_BYTES[t.info.dtype], 0);
    done += count;
    await enqueue(step.name, result, inputBytes, done === numel);
  }
}

/** Kernel dtypes in and out (F64 is widened and narrowed on the way, outside shared memory). */
function inSharedMemory(step: SoupStep): boolean {
  return step.outDtype !== 'F64' && step.inputs.every((t) => t.info.dtype !== 'F64');
}

/** Reads `target.length` bytes of tensor `t` from `offset` (relative to the tensor) into `target`. */
async function readTensorRange(t: CheckpointTensor, offset: number, target: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  const at = t.info.byteOffset + offset;
  if (t.source.readInto) await t.source.readInto(at, target);
  else target.set(await t.source.read(at, target.length));
}

/**
 * soupTensor in shared memory: each job's inputs are read straight into a slab from the pool and the
 * backend writes the result into the same slab, which is reused once the result is written. The
 * reads of the next jobs start while earlier ones compute and write (the window bounds them).
 */
async function soupTensorShared(step: SoupStep, backend: SoupBackend, maxJobBytes: number, slabs: SlabPool, enqueue: Enqueue, signal: AbortSignal | undefined): Promise<void> {
  const numel = numelOf(step.shape);
  if (numel === 0) {
    await enqueue(step.name, Promise.resolve(new Uint8Array(0)), 0, true);
    return;
  }
  const outDtype = step.outDtype as KernelDtype;
  const chunkElements = chunkElementsFor(step, backend, maxJobBytes);
  const widths = step.inputs.map((t) => INPUT_BYTES[t.info.dtype]);
  let done = 0;
  while (done < numel) {
    throwIfAborted(signal);
    const count = Math.min(chunkElements, numel - done);
    const offsets: number[] = [];
    let size = 0;
    for (const w of widths) {
      offsets.push(size);
      size = Math.ceil((size + count * w) / 8) * 8;
    }
    const slab = slabs.take(size + count * KERNEL_DTYPE_BYTES[outDtype]);
    const inputs = step.inputs.map((t, i) => ({ dtype: t.info.dtype as KernelDtype, bytes: slab.subarray(offsets[i], offsets[i] + count * widths[i]) }));
    const output = slab.subarray(size, size + count * KERNEL_DTYPE_BYTES[outDtype]);
    const reads = Promise.all(step.inputs.map((t, i) => readTensorRange(t, done * widths[i], inputs[i].bytes, signal)));
    const job: SoupJob = { mode: step.mode, coefficients: step.coefficients, inputs, outDtype, elementCount: count, output };
    const result = reads.then(() => backend.run(job, signal));
    done += count;
    await enqueue(step.name, result, count * widths.reduce((a, b) => a + b, 0), done === numel, () => slabs.give(slab));
  }
}

export function checkedChunk(t: CheckpointTensor, bytes: Uint8Array | undefined, count: number): Uint8Array {
  const expected = count * INPUT_BYTES[t.info.dtype];
  if (!bytes || bytes.length !== expected) {
    throw new Error(`${t.file}: tensor ${t.info.name}: read ${bytes?.length ?? 0} bytes for a chunk of ${count} ${t.info.dtype} elements, expected ${expected}`);
  }
  return bytes;
}

/** An F64 input to an f32/f16/bf16 output is rounded to f32 first (the output holds less anyway). */
export function toKernelInput(t: CheckpointTensor, bytes: Uint8Array): SoupJob['inputs'][number] {
  const dtype = t.info.dtype;
  if (dtype === 'F64') {
    const f32 = decodeToF32('F64', bytes);
    return { dtype: 'F32', bytes: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength) };
  }
  return { dtype: dtype as KernelDtype, bytes };
}

async function writeExtra(target: OutputTarget, extra: ExtraOutputFile, signal: AbortSignal | undefined): Promise<void> {
  const sink = await target.createFile(extra.name);
  try {
    if (extra.data instanceof Uint8Array) {
      await sink.write(extra.data);
    } else {
      const src = extra.data;
      for (let pos = 0; pos < src.size; pos += COPY_CHUNK_BYTES) {
        throwIfAborted(signal);
        await sink.write(await src.read(pos, Math.min(COPY_CHUNK_BYTES, src.size - pos)));
      }
    }
    await sink.close();
  } catch (e) {
    await sink.abort().catch(() => undefined);
    throw e;
  }
}

/** The written output failed its re-read: names the file and what differs. */
export class OutputVerificationError extends InputError {
  override name = 'OutputVerificationError';
}

/**
 * Runs `verify`, the re-read of a committed output, and asks the target afterwards whether another
 * merge has replaced that output (two merges into one place: the later commit wins). If so, that is the
 * error, whether the check failed (it read a header the other merge wrote) or passed (the output there
 * is not this merge's either).
 */
export async function verifyUnlessReplaced(target: OutputTarget, verify: () => Promise<void>): Promise<void> {
  const failure = await verify().then(
    () => undefined,
    (e: unknown) => ({ e }),
  );
  const replaced = await target.replacedAfterCommit?.().catch(() => undefined);
  if (replaced !== undefined) {
    throw new OutputVerificationError(
      `${target.name}: another merge replaced this merge's output (${replaced}) before it could be checked; what is there now is the other merge's output`,
    );
  }
  if (failure) throw failure.e;
}

/** Re-reads every written safetensors header (and the index) and checks them against the plan. */
async function verifyOutput(
  plan: MergePlan,
  specs: OutputTensorSpec[],
  files: string[],
  readBackFile: (fileName: string) => Promise<ByteSource>,
  metadata: Record<string, string>,
): Promise<void> {
  const expected = new Map(specs.map((s) => [s.name, s]));
  const found = new Map<string, string>();
  // The file was committed a moment ago: if it cannot be opened now, something else moved it, most
  // likely another merge into the same output (whose own output then replaced this one).
  const readBack = (file: string) =>
    readBackFile(file).catch((e: unknown) => {
      throw new OutputVerificationError(
        `${file}: the output was replaced by another process before it could be checked (${e instanceof Error ? e.message : String(e)}); is another merge writing to the same place?`,
      );
    });
  for (const file of files.filter((f) => f.endsWith('.safetensors'))) {
    const source = await readBack(file);
    const header = await readHeader(source).finally(() => closeSource(source));
    for (const [k, v] of Object.entries(metadata)) {
      if (header.metadata[k] !== v) throw new OutputVerificationError(`${file}: __metadata__ ${k} was not written as planned`);
    }
    for (const t of header.tensors) {
      const spec = expected.get(t.name);
      if (!spec) throw new OutputVerificationError(`${file}: holds tensor ${t.name}, which the merge did not plan`);
      if (found.has(t.name)) throw new OutputVerificationError(`${file}: tensor ${t.name} is also in ${found.get(t.name)}`);
      if (spec.dtype !== t.dtype || spec.shape.length !== t.shape.length || spec.shape.some((d, i) => d !== t.shape[i])) {
        throw new OutputVerificationError(`${file}: tensor ${t.name} is ${t.dtype} [${t.shape.join(', ')}], planned ${spec.dtype} [${spec.shape.join(', ')}]`);
      }
      found.set(t.name, file);
    }
  }
  const missing = plan.steps.filter((s) => !found.has(s.name));
  if (missing.length > 0) {
    throw new OutputVerificationError(`the output lacks ${missing.length} planned tensor${missing.length > 1 ? 's' : ''}, e.g. ${missing[0].name}`);
  }
  const indexName = files.find((f) => f.endsWith('.index.json'));
  if (indexName) {
    const src = await readBack(indexName);
    let weightMap: Record<string, unknown>;
    try {
      weightMap = (JSON.parse(new TextDecoder().decode(await src.read(0, src.size).finally(() => closeSource(src)))) as { weight_map: Record<string, unknown> }).weight_map;
    } catch (e) {
      throw new OutputVerificationError(`${indexName}: is not valid JSON (${(e as Error).message})`);
    }
    for (const [tensor, file] of found) {
      if (weightMap?.[tensor] !== file) throw new OutputVerificationError(`${indexName}: maps ${tensor} to ${String(weightMap?.[tensor])}, but it is in ${file}`);
    }
  }
}

async function closeSource(source: ByteSource): Promise<void> {
  await (source as ByteSource & { close?: () => Promise<void> }).close?.().catch(() => undefined);
}
