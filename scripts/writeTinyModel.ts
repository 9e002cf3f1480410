/**
 * Writes a generated tiny model folder (scripts/tinyModel.ts) to disk, for trying the runtime, `souplab eval`
 * and GGUF export by hand:
 *
 *   node dist/node/writeTinyModel.js <folder> [--arch llama|mistral|qwen2|qwen3] [--dtype F32|F16|BF16] [--seed 1] [--delta-seed 2]
 *
 * Written through the Node folder target: all or nothing.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Architecture } from '../src/model/types';
import { nodeFolderTarget } from '../src/node/fileTargets';
import { tinyModel, type TinyDtype, type TinyModelOptions } from './tinyModel';

export async function writeTinyModel(folder: string, options: TinyModelOptions): Promise<string[]> {
  const { files } = await tinyModel(options);
  const target = nodeFolderTarget(folder);
  try {
    for (const [name, bytes] of files) {
      const sink = await target.createFile(name);
      await sink.write(bytes);
      await sink.close();
    }
    await target.commit();
  } catch (e) {
    await target.abort();
    throw e;
  }
  return [...files.keys()];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { arch: { type: 'string', default: 'llama' }, dtype: { type: 'string', default: 'F32' }, seed: { type: 'string', default: '1' }, 'delta-seed': { type: 'string' } },
  });
  const architectures = ['llama', 'mistral', 'qwen2', 'qwen3'];
  if (positionals.length !== 1 || !architectures.includes(values.arch) || !['F32', 'F16', 'BF16'].includes(values.dtype.toUpperCase())) {
    process.stderr.write('usage: writeTinyModel <folder> [--arch llama|mistral|qwen2|qwen3] [--dtype F32|F16|BF16] [--seed N] [--delta-seed N]\n');
    process.exitCode = 2;
    return;
  }
  const folder = resolve(positionals[0]);
  const deltaSeed = values['delta-seed'];
  const names = await writeTinyModel(folder, {
    architecture: values.arch as Architecture,
    dtype: values.dtype.toUpperCase() as TinyDtype,
    seed: Number(values.seed),
    ...(deltaSeed === undefined ? {} : { deltaSeed: Number(deltaSeed) }),
  });
  process.stdout.write(`wrote ${names.join(', ')} to ${folder}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
