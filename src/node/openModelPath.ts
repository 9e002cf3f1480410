import { openModel, type OpenedModel } from '../model/load';
import { openCheckpointPath } from './openCheckpointPath';

export interface NodeOpenedModel extends OpenedModel {
  /** Closes every file the model opened. */
  close(): Promise<void>;
}

/**
 * Opens a Hugging Face model folder (config.json, safetensors single or sharded, tokenizer.json,
 * tokenizer_config.json) for the model runtime: config checked and supported, every weight present with its
 * shape, the tokenizer read. Weights are read later, tensor by tensor.
 */
export async function openModelPath(path: string): Promise<NodeOpenedModel> {
  const checkpoint = await openCheckpointPath(path);
  try {
    return { ...(await openModel(checkpoint)), close: () => checkpoint.close() };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}
