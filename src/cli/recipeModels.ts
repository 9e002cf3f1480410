/**
 * What `souplab merge` does with a recipe's models and backend, shared with the cluster search, which
 * writes each point's soup through runRecipe as `souplab merge` would: open a model of the recipe (a
 * checkpoint or `base+adapter`, paths relative to the recipe), refuse one checkpoint listed twice or an
 * output over an input, and choose the soup backend.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../formats/lora/adapterConfig';
import { splitModelRef } from '../formats/lora/modelRef';
import type { ByteSource } from '../formats/types';
import { describeAdapter, requestAdapter } from '../gpu/adapter';
import { createWebGPUSoupBackend } from '../merge/gpu/webgpuSoupBackend';
import type { SoupBackend } from '../merge/kernel';
import type { ModelRef, Recipe } from '../merge/recipe';
import { createNodeCpuBackend } from '../node/cpuWorkers';
import { type NodeCheckpoint } from '../node/openCheckpointPath';
import { openCheckpointRef } from '../node/openCheckpointRef';
import { mayHaveGpuDevice, nodeGPU } from '../node/webgpu';

/** Shards of a folder output, as Hugging Face writes them (GB = 10⁹). */
export const DEFAULT_SHARD_BYTES = 5e9;

export interface OpenedModel {
  ref: ModelRef;
  /** The checkpoint's path (the base's, for `base+adapter`). */
  path: string;
  /** The adapter folder of a `base+adapter` reference. */
  adapterPath?: string;
  checkpoint: NodeCheckpoint;
}

/** Opens one recipe model (a checkpoint, or mergekit's `base+adapter`); a missing path or a bad file is reported with the recipe line. */
export async function openRecipeModel(recipe: Recipe, recipePath: string, ref: ModelRef): Promise<OpenedModel> {
  const where = `${recipe.fileName} line ${ref.line ?? '?'}: `;
  const split = splitModelRef(ref.path);
  if (typeof split === 'string') throw new InputError(`${where}${split}`);
  const resolvePart = (p: string) => (isAbsolute(p) ? p : resolve(dirname(recipePath), p));
  for (const part of [split.base, split.adapter]) {
    if (part === undefined) continue;
    const path = resolvePart(part);
    const s = await stat(path).catch(() => undefined);
    if (!s) {
      const looksLikeHubId = /^[\w.-]+\/[\w.-]+$/.test(part) && !part.endsWith('.safetensors');
      throw new InputError(
        `${where}${part === split.adapter ? 'adapter' : 'model'} ${part} not found (${path}: no such file or folder)${looksLikeHubId ? '; SoupLab reads local checkpoints: download it first, e.g. huggingface-cli download ' + part + ' --local-dir <folder>' : ''}`,
      );
    }
  }
  try {
    const checkpoint = await openCheckpointRef(ref.path, dirname(recipePath));
    return { ref, path: resolvePart(split.base), adapterPath: split.adapter === undefined ? undefined : resolvePart(split.adapter), checkpoint };
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${where}model ${ref.path}: ${e.message}`);
    throw e;
  }
}

/** The path with links and `.`/`..` resolved; for a path that does not exist yet, its folder's. */
const real = async (p: string) => realpath(p).catch(async () => join(await realpath(dirname(p)).catch(() => dirname(p)), basename(p)));

/** The resolved paths of the files a model reads. */
function realFilesOf(m: OpenedModel): Promise<string[]> {
  const files = m.checkpoint.files.map((f) => (f.source as ByteSource & { path?: string }).path ?? join(m.path, f.name));
  // base+adapter is another model than its base: the adapter's files tell them apart (and must not be overwritten).
  if (m.adapterPath !== undefined) files.push(join(m.adapterPath, ADAPTER_CONFIG_FILE), join(m.adapterPath, ADAPTER_WEIGHTS_FILE));
  return Promise.all(files.map(real));
}

/**
 * Two spellings of one checkpoint (`../m/./m0.safetensors` and its absolute path, a folder and its
 * index.json, a link) would weigh it twice without anyone asking: compared by the files read.
 */
export async function refuseSameModelTwice(models: OpenedModel[], recipe: Recipe): Promise<void> {
  const seen = new Map<string, OpenedModel>();
  for (const m of models) {
    const key = (await realFilesOf(m)).sort().join('\0');
    const first = seen.get(key);
    if (first) {
      const line = (x: OpenedModel) => `${recipe.fileName} line ${x.ref.line ?? '?'}`;
      throw new InputError(
        `${line(m)}: model ${m.ref.path} is the same checkpoint as ${first.ref.path} (${line(first)}), written another way; list each model once (a larger weight counts it more)`,
      );
    }
    seen.set(key, m);
  }
}

/** The output must not be, contain, or sit in the folder of an input: writing it would replace input files. */
export async function refuseOverwritingInputs(outPath: string, toFile: boolean, models: OpenedModel[], recipe: Recipe): Promise<void> {
  const out = await real(outPath);
  for (const m of models) {
    const where = `${recipe.fileName} line ${m.ref.line ?? '?'}`;
    const input = await real(m.path);
    const files = await realFilesOf(m);
    const inside = (child: string, parent: string) => {
      const r = relative(parent, child);
      return r === '' || (!r.startsWith('..') && !isAbsolute(r) && r.split(sep)[0] !== '..');
    };
    const clash =
      out === input ||
      files.includes(out) ||
      (!toFile && files.some((f) => dirname(f) === out)) ||
      (!toFile && inside(input, out)) ||
      (toFile && m.checkpoint.files.length > 0 && dirname(out) === input);
    if (clash) {
      throw new InputError(`--out ${outPath} would overwrite input model ${m.ref.path} (${where}); choose another output`);
    }
  }
}

/** Whether the CPU backend is the choice before the recipe is read: --backend cpu, or no GPU device here. */
export function cpuChosenUpFront(forced: string | true | undefined): boolean {
  return forced === 'cpu' || (forced === undefined && !mayHaveGpuDevice());
}

/** The backend: `early` (the CPU backend made up front, see cpuChosenUpFront) where there is one. */
export async function chooseBackend(forced: string | true | undefined, say: (line: string) => void, threads: number | undefined, early?: SoupBackend): Promise<SoupBackend> {
  if (forced === 'cpu') return early ?? createNodeCpuBackend({ workers: threads });
  if (forced === 'webgpu') {
    const adapter = await requestAdapter(await nodeGPU()); // throws WebGPUNotAvailableError: no fallback when forced
    return createWebGPUSoupBackend(adapter);
  }
  let reason: string;
  try {
    // Without a GPU device node there is no hardware adapter to find, and probing makes the Vulkan
    // loader print driver warnings of its own: say so and go to the CPU.
    if (!mayHaveGpuDevice()) throw new Error('no GPU device here (no /dev/dri render node, /dev/nvidia* or /dev/dxg)');
    const adapter = await requestAdapter(await nodeGPU());
    const summary = describeAdapter(adapter);
    if (!summary.isFallback && !/swiftshader|llvmpipe|lavapipe|software/i.test(summary.name)) {
      return await createWebGPUSoupBackend(adapter);
    }
    reason = `the WebGPU adapter (${summary.name}) is a software renderer, slower than the CPU path (--backend webgpu uses it anyway)`;
  } catch (e) {
    reason = e instanceof Error ? e.message.replace(/: the CPU path will be used$/, '') : String(e);
  }
  const cpu = early ?? createNodeCpuBackend({ workers: threads });
  say(`note: ${reason}; merging on the CPU (${cpu.description})`);
  return cpu;
}
