/** Tiny generated models (scripts/tinyModel.ts) opened as the runtime opens a model folder, for the GPU model tests. */
import { tinyModel, type TinyModelOptions } from '../../scripts/tinyModel';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import type { ByteSource } from '../../src/formats/types';
import { openModel, type OpenedModel } from '../../src/model/load';

export async function openTinyModel(options: TinyModelOptions): Promise<OpenedModel> {
  const { files } = await tinyModel(options);
  const sources = new Map<string, ByteSource>([...files].map(([name, bytes]) => [name, bytesSource(bytes, name)]));
  return openModel(await openCheckpoint(sources, `tiny-${options.architecture}-${options.dtype ?? 'F32'}`));
}
