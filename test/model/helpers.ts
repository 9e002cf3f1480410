import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyModel, type TinyModelOptions } from '../../scripts/tinyModel';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import { writeGguf, type GgufFileType } from '../../src/model/gguf/writeGguf';
import { openModel, type OpenedModel } from '../../src/model/load';
import { nodeFileTarget } from '../../src/node/fileTargets';

/** A generated tiny model, opened through the runtime's own loading path (in memory). */
export async function openTinyModel(options: TinyModelOptions): Promise<OpenedModel> {
  const { files } = await tinyModel(options);
  const checkpoint = await openCheckpoint(new Map([...files].map(([k, v]) => [k, bytesSource(v, k)])), `tiny-${options.architecture}`);
  return openModel(checkpoint);
}

export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'souplab-model-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Writes `model` as GGUF of `type` into `dir`; returns the file's path. */
export async function exportGguf(model: OpenedModel, dir: string, type: GgufFileType): Promise<string> {
  if (!model.tokenizerJson) throw new Error('the tiny model has no tokenizer.json');
  const path = join(dir, `${model.name}-${type}.gguf`);
  await writeGguf({ ...model, tokenizerJson: model.tokenizerJson }, nodeFileTarget(path), { type });
  return path;
}
