import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { InputError } from '../errors';
import { applyLoraAdapter } from '../formats/lora/adaptedCheckpoint';
import { openLoraAdapter, type LoraAdapter } from '../formats/lora/adapter';
import { ADAPTER_CONFIG_FILE, ADAPTER_PICKLE_FILE, ADAPTER_WEIGHTS_FILE } from '../formats/lora/adapterConfig';
import { splitModelRef } from '../formats/lora/modelRef';
import type { ByteSource } from '../formats/types';
import { nodeFileSource, type NodeFileSource } from './fileSource';
import { fsInputError } from './fsErrors';
import { openCheckpointPath, type NodeCheckpoint } from './openCheckpointPath';

export interface NodeLoraAdapter extends LoraAdapter {
  close(): Promise<void>;
}

/** Opens a PEFT adapter folder (or its adapter_config.json / adapter_model.safetensors): config and header only. */
export async function openLoraAdapterPath(path: string): Promise<NodeLoraAdapter> {
  if ([ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_PICKLE_FILE].includes(basename(path))) path = dirname(path);
  let names: string[];
  try {
    if (!(await stat(path)).isDirectory()) throw new InputError(`${path}: a LoRA adapter is a folder with ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}`);
    names = await readdir(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw fsInputError(path, e);
  }
  const sources: NodeFileSource[] = [];
  const close = async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
  try {
    const files = new Map<string, ByteSource>();
    for (const n of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_PICKLE_FILE]) {
      if (!names.includes(n)) continue;
      const s = await nodeFileSource(resolve(path, n));
      sources.push(s);
      files.set(n, s);
    }
    const adapter = await openLoraAdapter(files, path.replace(/[\\/]+$/, '') || path);
    return Object.assign(adapter, { close });
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Opens a model reference as mergekit writes it: a checkpoint path, or `base+adapter` (a virtual
 * checkpoint with the adapter merged in tensor by tensor). Relative paths are resolved against `dir`.
 */
export async function openCheckpointRef(ref: string, dir?: string): Promise<NodeCheckpoint> {
  const split = splitModelRef(ref);
  if (typeof split === 'string') throw new InputError(split);
  const at = (p: string) => (dir === undefined || isAbsolute(p) ? p : resolve(dir, p));
  if (split.adapter === undefined) return openCheckpointPath(at(split.base));
  const base = await openCheckpointPath(at(split.base));
  try {
    const adapter = await openLoraAdapterPath(at(split.adapter));
    try {
      const adapted = applyLoraAdapter(base, adapter);
      return Object.assign(adapted, {
        close: async () => {
          await Promise.all([base.close(), adapter.close()]);
        },
      });
    } catch (e) {
      await adapter.close();
      throw e;
    }
  } catch (e) {
    await base.close();
    throw e;
  }
}
