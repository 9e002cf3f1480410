/** Opens an ingredient input as a Checkpoint (headers only) and summarises it for its card. */
import { InputError } from '../../errors';
import { blobSource, type BlobByteSource } from '../../formats/browserSources';
import { openCheckpoint, type Checkpoint } from '../../formats/checkpoint';
import { applyLoraAdapter, type AdaptedCheckpoint } from '../../formats/lora/adaptedCheckpoint';
import { isAdapterFolder, openLoraAdapter, type LoraAdapter } from '../../formats/lora/adapter';
import type { ByteSource } from '../../formats/types';
import type { IngredientInput, IngredientSummary, SourceItem } from './types';

/** A ByteSource named `label` in messages; a handle is read through a snapshot File. */
export async function sourceOf(item: SourceItem, label: string): Promise<BlobByteSource> {
  if (item instanceof Blob) return blobSource(item, label);
  let file: File;
  try {
    file = await item.getFile();
  } catch (e) {
    const why = e instanceof DOMException && e.name === 'NotAllowedError' ? 'permission to read it was not granted (or was revoked)' : e instanceof Error ? e.message : String(e);
    throw new InputError(`${label}: cannot be opened: ${why}`);
  }
  return blobSource(file, label);
}

/**
 * Opens the checkpoint: a single file, or a folder's files by name (sharded or single). close() ends
 * the streams its sources keep open for the merge's reads.
 */
export async function openInput(input: IngredientInput): Promise<Checkpoint & { close(): Promise<void> }> {
  const sources: BlobByteSource[] = [];
  const open = async (item: SourceItem, label: string) => {
    const s = await sourceOf(item, label);
    sources.push(s);
    return s;
  };
  const close = async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
  if (input.kind === 'file') {
    const [name, item] = input.files[0];
    return Object.assign(await openCheckpoint(await open(item, name), input.name), { close });
  }
  const files = new Map<string, ByteSource>();
  for (const [name, item] of input.files) files.set(name, await open(item, `${input.name}/${name}`));
  if (isAdapterFolder(files.keys())) {
    try {
      const adapter = await openLoraAdapter(files, input.name);
      if (!input.base) throw new InputError(`${input.name} is a LoRA adapter${adapter.config.baseModel ? ` for ${adapter.config.baseModel}` : ''}; its base is not loaded: add the base model, then this adapter again`);
      const base = await openInput(input.base);
      try {
        return Object.assign(applyLoraAdapter(base, adapter), { close: async () => void (await Promise.all([close(), base.close()])) });
      } catch (e) {
        await base.close();
        throw e;
      }
    } catch (e) {
      await close();
      throw e;
    }
  }
  return Object.assign(await openCheckpoint(files, input.name), { close });
}

/** A LoRA adapter folder not yet given its base. */
export function isAdapterInput(input: IngredientInput): boolean {
  return input.kind === 'folder' && input.base === undefined && isAdapterFolder(input.files.map(([n]) => n));
}

/**
 * For a dropped LoRA adapter folder: the first loaded ingredient it fits as its base (every adapted
 * module present with the shapes A and B need), or undefined with the sentence saying what it needs.
 */
export async function findAdapterBase(input: IngredientInput, loaded: { input: IngredientInput; checkpoint: Checkpoint }[]): Promise<{ base?: IngredientInput; why: string }> {
  const files = new Map<string, ByteSource>();
  for (const [name, item] of input.files) files.set(name, await sourceOf(item, `${input.name}/${name}`));
  let adapter: LoraAdapter;
  try {
    adapter = await openLoraAdapter(files, input.name);
  } finally {
    await Promise.all([...files.values()].map((s) => (s as BlobByteSource).close()));
  }
  const needs = adapter.config.baseModel ? ` for ${adapter.config.baseModel}` : '';
  let firstMisfit = '';
  for (const c of loaded) {
    if (c.input.base) continue; // an adapter is not a base
    try {
      applyLoraAdapter(c.checkpoint, adapter);
      return { base: c.input, why: '' };
    } catch (e) {
      firstMisfit ||= messageOf(e);
    }
  }
  return { why: `${input.name} is a LoRA adapter${needs}; its base is not loaded${firstMisfit ? ` (${firstMisfit})` : ': add the base model, then this adapter again'}` };
}

export function summarise(c: Checkpoint): IngredientSummary {
  const dtypes = new Map<string, { tensors: number; bytes: number }>();
  let parameters = 0;
  for (const t of c.tensors.values()) {
    const d = dtypes.get(t.info.dtype) ?? { tensors: 0, bytes: 0 };
    d.tensors++;
    d.bytes += t.info.byteLength;
    dtypes.set(t.info.dtype, d);
    parameters += t.info.shape.reduce((a, b) => a * b, 1);
  }
  return {
    files: c.files.map((f) => ({ name: f.name, bytes: f.source.size })),
    extraFiles: [...c.extraFiles.keys()].sort(),
    tensors: c.tensors.size,
    parameters,
    bytes: c.files.reduce((s, f) => s + f.source.size, 0),
    dtypes: [...dtypes].map(([dtype, v]) => ({ dtype, ...v })).sort((a, b) => b.bytes - a.bytes),
    sharded: c.sharded,
    ...('adapter' in c ? { lora: loraSummary(c as AdaptedCheckpoint) } : {}),
  };
}

function loraSummary(c: AdaptedCheckpoint): NonNullable<IngredientSummary['lora']> {
  const { config } = c.adapter;
  const base = c.name.slice(0, c.name.length - c.adapter.name.length - 1);
  return { r: config.r, alpha: config.loraAlpha, dora: config.useDora, rslora: config.useRslora, trainedOn: config.baseModel, base, adaptedTensors: c.adaptedTensors.length };
}

/** A message for people: the engine's own one-line message, or a plain description of a bug. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}
