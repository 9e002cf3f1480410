import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from '../src/formats/checkpoint';
import { createCpuSoupBackend } from '../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../src/merge/cpu/protocol';
import { planMerge } from '../src/merge/plan';
import { parseRecipe } from '../src/merge/recipe';
import { runMerge } from '../src/merge/runMerge';
import { nodeFileSource } from '../src/node/fileSource';
import { nodeFileTarget } from '../src/node/fileTargets';
import { openCheckpointPath } from '../src/node/openCheckpointPath';

/**
 * The reference the studio's exports are held to: `recipeYaml` merged in Node by the CPU engine (one
 * in-thread worker), its models `./<name>.safetensors` for `names`, read from `dir`. The output is
 * written to dir/reference.safetensors; its bytes are returned.
 */
export async function mergeInNode(recipeYaml: string, dir: string, names: string[]): Promise<Buffer> {
  const { recipe } = parseRecipe(recipeYaml);
  const opened = await Promise.all(names.map((n) => openCheckpointPath(join(dir, `${n}.safetensors`))));
  const checkpoints = new Map<string, Checkpoint>(names.map((n, i) => [`./${n}.safetensors`, opened[i]]));
  const refPath = join(dir, 'reference.safetensors');
  const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
  try {
    await runMerge(planMerge(recipe, checkpoints), {
      backend,
      target: nodeFileTarget(refPath),
      recipeYaml,
      maxShardBytes: Infinity,
      readBack: (name) => nodeFileSource(refPath, name),
    });
  } finally {
    await backend.dispose();
    await Promise.all(opened.map((c) => c.close()));
  }
  return readFile(refPath);
}

/** SHA-256 of `bytes`, hex, as readExportedSoup gives a stored model's. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** One task of `souplab eval --json`, as the Taste specs compare the page with it. */
export interface CliTask {
  name: string;
  kind: 'multiple_choice' | 'perplexity';
  acc?: number;
  acc_norm?: number;
  perplexity?: number;
  tokens?: number;
  bits_per_byte?: number;
}

/** The studio's demo checkpoint folders (what the page ships). */
export const DEMO_CHECKPOINTS = 'public/demo/checkpoints';

/**
 * A new temporary folder holding copies of the demo checkpoint folders `names`: a recipe the page
 * exports is put beside them and run by the CLI, as a person would run it.
 */
export async function demoCheckpointsCopy(prefix: string, names: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  for (const name of names) await cp(join(DEMO_CHECKPOINTS, name), join(dir, name), { recursive: true });
  return dir;
}
