/**
 * A base checkpoint with a LoRA adapter merged in, as a virtual checkpoint (mergekit's `base+adapter`):
 * the adapted tensors are F32 tensors whose bytes are computed from the base's rows, A, B (and DoRA's
 * magnitudes) when something reads them, so a merge, an evaluation or a search streams through it like
 * through any checkpoint, and no merged model exists in memory or on disk. Other tensors are the base's;
 * modules_to_save tensors are the adapter's.
 *
 * Building it checks that the adapter fits the base (every adapted module exists with the shape A and
 * B imply), so an adapter for another base fails here, before anything is read or written.
 */
import { InputError } from '../../errors';
import type { Checkpoint, CheckpointTensor } from '../checkpoint';
import { isFloatDtype, numelOf, type FloatDtype } from '../dtype';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../floatArrays';
import { printable } from '../header';
import type { ByteSource } from '../types';
import type { LoraAdapter, LoraModule } from './adapter';
import { moduleLora } from './adapterConfig';
import { cpuLoraRows, storedShape, type LoraFactors, type LoraRowsComputer } from './loraRows';

/** Rows read from the base per block when DoRA's column norms need a pass over the whole tensor. */
const NORM_BLOCK_BYTES = 8 << 20;
/** How many tensors' decoded factors stay cached (a merge reads a tensor in several chunks). */
const CACHED_FACTORS = 8;

export interface AdaptedCheckpoint extends Checkpoint {
  adapter: LoraAdapter;
  /** Base tensor names the adapter changes (LoRA-adapted or replaced). */
  adaptedTensors: string[];
  /**
   * What computes the adapted rows when they are read: the CPU unless a merge binds its backend's GPU
   * (runRecipe does, for the time of the merge).
   */
  loraRows: { computer: LoraRowsComputer };
}

/** True for a checkpoint made by applyLoraAdapter. */
export function isAdaptedCheckpoint(c: Checkpoint): c is AdaptedCheckpoint {
  return 'adapter' in c && 'loraRows' in c;
}

/** The base tensor a module's weight is: `<module>.weight`, tolerating a missing or extra leading `model.`. */
function baseTensorName(base: Checkpoint, module: string): string | undefined {
  const candidates = [`${module}.weight`, `model.${module}.weight`, module.startsWith('model.') ? `${module.slice(6)}.weight` : undefined];
  return candidates.find((c) => c !== undefined && base.tensors.has(c));
}

function describeBase(base: Checkpoint, adapter: LoraAdapter): string {
  return adapter.config.baseModel ? ` (the adapter was trained on ${adapter.config.baseModel})` : ` (is ${printable(adapter.name)} an adapter for ${printable(base.name)}?)`;
}

export function applyLoraAdapter(base: Checkpoint, adapter: LoraAdapter): AdaptedCheckpoint {
  const replaced = new Map<string, CheckpointTensor>();
  const cache = new FactorCache(CACHED_FACTORS);
  const loraRows = { computer: cpuLoraRows };
  const mismatch = (what: string) => new InputError(`${printable(adapter.name)} does not fit ${printable(base.name)}: ${what}${describeBase(base, adapter)}`);

  for (const m of adapter.modules) {
    const name = baseTensorName(base, m.module);
    if (!name) throw mismatch(`it adapts module ${printable(m.module)}, but the base has no tensor ${printable(`${m.module}.weight`)}`);
    const t = base.tensors.get(name)!;
    const [, inF] = m.a.info.shape;
    const [outF] = m.b.info.shape;
    const expected = adapter.config.fanInFanOut ? [inF, outF] : [outF, inF];
    if (t.info.shape.length !== 2 || t.info.shape[0] !== expected[0] || t.info.shape[1] !== expected[1]) {
      throw mismatch(
        `tensor ${printable(name)} has shape [${t.info.shape.join(', ')}], but the adapter's lora_A [${m.a.info.shape.join(', ')}] and lora_B [${m.b.info.shape.join(', ')}] need [${expected.join(', ')}]${adapter.config.fanInFanOut ? ' (fan_in_fan_out: stored [in, out])' : ''}`,
      );
    }
    if (!isFloatDtype(t.info.dtype)) throw mismatch(`tensor ${printable(name)} is ${t.info.dtype}, not a float tensor a LoRA can adapt`);
    for (const f of [m.a, m.b, m.magnitude]) {
      if (f && !isFloatDtype(f.info.dtype)) throw new InputError(`${printable(adapter.name)}: tensor ${printable(f.info.name)} is ${f.info.dtype}, not a float tensor`);
    }
    replaced.set(name, adaptedTensor(t, m, { scale: moduleLora(adapter.config, m.module).scale, fanInFanOut: adapter.config.fanInFanOut, adapterName: adapter.name, cache, loraRows }));
  }
  for (const [plain, t] of adapter.replacements) {
    const name = base.tensors.has(plain) ? plain : baseTensorName(base, plain.replace(/\.weight$/, '')) ?? (base.tensors.has(`model.${plain}`) ? `model.${plain}` : undefined);
    if (!name) throw mismatch(`modules_to_save tensor ${printable(plain)} has no counterpart in the base`);
    const b = base.tensors.get(name)!;
    if (b.info.shape.join() !== t.info.shape.join()) {
      throw mismatch(`modules_to_save tensor ${printable(plain)} has shape [${t.info.shape.join(', ')}], the base's ${printable(name)} [${b.info.shape.join(', ')}] (a resized vocabulary is not supported)`);
    }
    if (replaced.has(name)) throw new InputError(`${printable(adapter.name)}: ${printable(name)} is both LoRA-adapted and in modules_to_save`);
    replaced.set(name, { ...t, info: { ...t.info, name } });
  }

  // The base's order (file, then offset), with the adapted tensors in their places.
  const tensors = new Map<string, CheckpointTensor>();
  for (const [name, t] of base.tensors) tensors.set(name, replaced.get(name) ?? t);
  return {
    ...base,
    name: `${base.name}+${adapter.name}`,
    tensors,
    adapter,
    adaptedTensors: [...replaced.keys()],
    loraRows,
  };
}

interface AdaptOptions {
  scale: number;
  fanInFanOut: boolean;
  adapterName: string;
  cache: FactorCache;
  loraRows: { computer: LoraRowsComputer };
}

/** The adapted tensor: F32, its bytes computed from whole rows of the base on each read. */
function adaptedTensor(baseT: CheckpointTensor, m: LoraModule, o: AdaptOptions): CheckpointTensor {
  const name = baseT.info.name;
  const numel = numelOf(baseT.info.shape);
  const byteLength = numel * 4;
  const dtype = baseT.info.dtype as FloatDtype;
  const width = FLOAT_BYTES[dtype];
  const cols = baseT.info.shape[1];
  const sourceName = `${baseT.source.name}+${o.adapterName}`;

  const readBaseRows = async (row0: number, rows: number): Promise<ArrayLike<number>> => {
    const bytes = await baseT.source.read(baseT.info.byteOffset + row0 * cols * width, rows * cols * width);
    if (dtype === 'F64') return new Float64Array(bytes.slice().buffer);
    return decodeToF32(dtype, bytes);
  };
  const factors = (computer: LoraRowsComputer) =>
    // Keyed by the computer too: DoRA's column norms are the computer's (the GPU's agree within rounding).
    o.cache.get(`${sourceName}\0${name}\0${computer.name}`, async () => {
      const [r, inF] = m.a.info.shape;
      const f: LoraFactors = {
        a: await readF64(m.a),
        b: await readF64(m.b),
        r,
        outFeatures: m.b.info.shape[0],
        inFeatures: inF,
        scale: o.scale,
        fanInFanOut: o.fanInFanOut,
        magnitude: m.magnitude ? await readF64(m.magnitude) : undefined,
      };
      const norms = f.magnitude && f.fanInFanOut ? await computer.columnNorms(f, readBaseRows, Math.max(1, Math.floor(NORM_BLOCK_BYTES / (cols * 8)))) : undefined;
      return { f, norms };
    });

  const source: ByteSource = {
    name: sourceName,
    size: byteLength,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > byteLength) {
        throw new RangeError(`${sourceName}: tensor ${name}: invalid read of ${length} bytes at ${offset} (${byteLength} bytes)`);
      }
      if (length === 0) return new Uint8Array(0);
      const computer = o.loraRows.computer;
      const { f, norms } = await factors(computer);
      const [rowsTotal] = storedShape(f);
      const row0 = Math.floor(offset / 4 / cols);
      const row1 = Math.min(rowsTotal, Math.ceil((offset + length) / 4 / cols));
      const merged = await computer.mergeRows(f, await readBaseRows(row0, row1 - row0), row0, row1 - row0, norms);
      const bytes = encodeFromF32('F32', merged);
      const start = offset - row0 * cols * 4;
      return bytes.subarray(start, start + length);
    },
  };
  return { info: { name, dtype: 'F32', shape: [...baseT.info.shape], byteOffset: 0, byteLength }, source, file: `${baseT.file}+${o.adapterName}` };
}

async function readF64(t: CheckpointTensor): Promise<Float64Array> {
  const bytes = await t.source.read(t.info.byteOffset, t.info.byteLength);
  const dtype = t.info.dtype as FloatDtype;
  if (dtype === 'F64') return new Float64Array(bytes.slice().buffer);
  return Float64Array.from(decodeToF32(dtype, bytes));
}

/** The last few tensors' factors, so the chunks of one tensor decode A and B once. */
class FactorCache {
  private readonly entries = new Map<string, Promise<{ f: LoraFactors; norms?: Float64Array }>>();
  constructor(private readonly capacity: number) {}
  get(key: string, make: () => Promise<{ f: LoraFactors; norms?: Float64Array }>): Promise<{ f: LoraFactors; norms?: Float64Array }> {
    let p = this.entries.get(key);
    if (p) {
      this.entries.delete(key);
    } else {
      p = make();
      p.catch(() => this.entries.delete(key));
    }
    this.entries.set(key, p);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return p;
  }
}
