import { InputError } from '../errors';
import { printable, readHeader, SafetensorsError } from './header';
import type { ByteSource, SafetensorsHeader, TensorInfo } from './types';

export interface CheckpointTensor {
  info: TensorInfo;
  source: ByteSource;
  /** The file (shard) name inside the checkpoint. */
  file: string;
}

export interface CheckpointFile {
  name: string;
  source: ByteSource;
  header: SafetensorsHeader;
}

export interface Checkpoint {
  /** Display name (folder or file name). */
  name: string;
  /** One file, or the shards in index order. */
  files: CheckpointFile[];
  /** Iteration order: file order, then offset order. */
  tensors: Map<string, CheckpointTensor>;
  /** `__metadata__` of the first file. */
  metadata: Record<string, string>;
  sharded: boolean;
  /** The folder's other files (config.json, tokenizer*, generation_config.json…), to carry over. */
  extraFiles: Map<string, ByteSource>;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
/** An index larger than this is not a real index (a 1T-parameter model's is a few MB). */
const MAX_INDEX_BYTES = 100_000_000;

/**
 * Opens a checkpoint from a single .safetensors source, or from the files of a folder by relative
 * name: with model.safetensors.index.json it is sharded; otherwise model.safetensors, or the folder's
 * only *.safetensors file. Reads the headers (and the index) only.
 */
export async function openCheckpoint(input: ByteSource | Map<string, ByteSource>, name?: string): Promise<Checkpoint> {
  if (!(input instanceof Map)) {
    const file = await openFile(baseName(input.name), input);
    return assemble(name ?? baseName(input.name), [file], false, new Map());
  }
  const folder = name ?? 'checkpoint';
  // A PEFT adapter folder holds a lone adapter_model.safetensors that is no model by itself.
  if (input.has('adapter_config.json') && !input.has(INDEX_FILE) && !input.has(SINGLE_FILE)) {
    throw new InputError(`${printable(folder)} is a LoRA adapter, not a model: name it with its base, as 'path/to/base+${printable(folder)}'`);
  }
  const index = input.get(INDEX_FILE);
  if (index) return openSharded(folder, input, index);

  const safetensors = [...input.keys()].filter((k) => k.endsWith('.safetensors'));
  let chosen: string;
  if (input.has(SINGLE_FILE)) chosen = SINGLE_FILE;
  else if (safetensors.length === 1) chosen = safetensors[0];
  else if (safetensors.length === 0) {
    throw new InputError(`${printable(folder)}: no .safetensors file in this folder`);
  } else {
    throw new InputError(
      `${printable(folder)}: ${safetensors.length} .safetensors files (${listSome(safetensors)}) but no ${INDEX_FILE} saying how they form one model`,
    );
  }
  const file = await openFile(chosen, input.get(chosen) as ByteSource);
  return assemble(folder, [file], false, extras(input, new Set(safetensors.concat(chosen))));
}

async function openSharded(folder: string, files: Map<string, ByteSource>, indexSource: ByteSource): Promise<Checkpoint> {
  const weightMap = await readIndex(indexSource);
  const shardNames = [...new Set(weightMap.values())].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (shardNames.length === 0) throw new SafetensorsError(indexSource.name, 'weight_map lists no tensors');
  for (const shard of shardNames) {
    if (!files.has(shard)) {
      const names = [...weightMap].filter(([, s]) => s === shard).map(([t]) => t);
      throw new SafetensorsError(
        indexSource.name,
        `names shard ${printable(shard)} (for ${names.length} tensor${names.length === 1 ? '' : 's'}, e.g. ${printable(names[0])}), which is not in the folder`,
      );
    }
  }
  const opened = await Promise.all(shardNames.map((s) => openFile(s, files.get(s) as ByteSource)));
  const seenIn = new Map<string, string>();
  for (const f of opened) {
    for (const t of f.header.tensors) {
      const other = seenIn.get(t.name);
      if (other !== undefined) {
        throw new SafetensorsError(f.source.name, `is also in shard ${printable(other)}; a tensor must be in exactly one shard`, t.name);
      }
      seenIn.set(t.name, f.name);
      const listed = weightMap.get(t.name);
      if (listed === undefined) {
        throw new SafetensorsError(f.source.name, `is not listed in ${INDEX_FILE}`, t.name);
      }
      if (listed !== f.name) {
        throw new SafetensorsError(indexSource.name, `the index puts it in ${printable(listed)}, but it is in ${printable(f.name)}`, t.name);
      }
    }
  }
  for (const [tensor, shard] of weightMap) {
    if (!seenIn.has(tensor)) {
      throw new SafetensorsError(indexSource.name, `the index puts it in ${printable(shard)}, which does not contain it`, tensor);
    }
  }
  const skip = new Set([INDEX_FILE, ...[...files.keys()].filter((k) => k.endsWith('.safetensors'))]);
  return assemble(folder, opened, true, extras(files, skip));
}

async function readIndex(source: ByteSource): Promise<Map<string, string>> {
  if (source.size > MAX_INDEX_BYTES) throw new SafetensorsError(source.name, `is ${source.size} bytes, too large for an index`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(0, source.size)));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new SafetensorsError(source.name, `is not valid JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof parsed !== 'object' || parsed === null || typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new SafetensorsError(source.name, 'has no "weight_map" object mapping tensor names to shard files');
  }
  const result = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string') throw new SafetensorsError(source.name, `weight_map maps ${printable(tensor)} to ${JSON.stringify(shard)}, not a file name`);
    if (shard.includes('/') || shard.includes('\\') || shard === '..' || shard === '.') {
      throw new SafetensorsError(source.name, `weight_map names shard ${printable(shard)}, which is not a file in the checkpoint folder`);
    }
    result.set(tensor, shard);
  }
  return result;
}

async function openFile(name: string, source: ByteSource): Promise<CheckpointFile> {
  return { name, source, header: await readHeader(source) };
}

function assemble(name: string, files: CheckpointFile[], sharded: boolean, extraFiles: Map<string, ByteSource>): Checkpoint {
  const tensors = new Map<string, CheckpointTensor>();
  for (const f of files) {
    for (const info of f.header.tensors) tensors.set(info.name, { info, source: f.source, file: f.name });
  }
  return { name, files, tensors, metadata: files[0]?.header.metadata ?? {}, sharded, extraFiles };
}

function extras(files: Map<string, ByteSource>, skip: Set<string>): Map<string, ByteSource> {
  const out = new Map<string, ByteSource>();
  for (const [k, v] of files) if (!skip.has(k)) out.set(k, v);
  return out;
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

function listSome(names: string[]): string {
  const shown = names.slice(0, 3).map(printable).join(', ');
  return names.length > 3 ? `${shown}, …` : shown;
}
