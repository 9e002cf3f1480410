/** Opens an ingredient input as a Checkpoint (headers only) and summarises it for its card. */
import { InputError } from '../../errors';
import { blobSource, type BlobByteSource } from '../../formats/browserSources';
import { openCheckpoint, type Checkpoint } from '../../formats/checkpoint';
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
  return Object.assign(await openCheckpoint(files, input.name), { close });
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
  };
}

/** A message for people: the engine's own one-line message, or a plain description of a bug. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}
