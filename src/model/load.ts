/**
 * A Hugging Face model folder (already opened as a Checkpoint: safetensors headers read, the other files as
 * ByteSources) → config, weights and tokenizer. No Node APIs: the CLI opens the folder with
 * openCheckpointPath, the studio with its file handles.
 */
import { InputError } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import type { ByteSource } from '../formats/types';
import { parseModelConfig } from './config';
import { parseJsonObject } from './json';
import { HfTokenizer } from './tokenizer';
import type { ModelConfig, WeightSource } from './types';
import { checkpointWeightSource, checkWeights } from './weights';

export interface ModelFiles {
  /** The model's name in messages (its folder). */
  name: string;
  config: ModelConfig;
  /** config.json, tokenizer.json and tokenizer_config.json as parsed JSON (the GGUF exporter reads them). */
  configJson: Record<string, unknown>;
  tokenizerJson: Record<string, unknown> | null;
  tokenizerConfigJson: Record<string, unknown> | null;
}

export interface OpenedModel extends ModelFiles {
  weights: WeightSource;
  /** Null when the folder has no tokenizer.json (scoring needs one; a GGUF export too). */
  tokenizer: HfTokenizer | null;
}

const MAX_JSON_BYTES = 200_000_000;

async function readJson(source: ByteSource, name: string): Promise<Record<string, unknown>> {
  if (source.size > MAX_JSON_BYTES) throw new InputError(`${name}: ${source.size} bytes is too large for a JSON file of a model`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await source.read(0, source.size));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${name}: not UTF-8 text`);
  }
  return parseJsonObject(text, name);
}

/** Reads config.json, tokenizer.json and tokenizer_config.json of a model folder's extra files. */
export async function readModelFiles(name: string, extraFiles: Map<string, ByteSource>): Promise<ModelFiles> {
  const configSource = extraFiles.get('config.json');
  if (!configSource) throw new InputError(`${name}: no config.json beside the weights; the model runtime needs it to know the architecture`);
  const configJson = await readJson(configSource, `${name}/config.json`);
  const config = parseModelConfig(configJson, `${name}/config.json`);
  const tok = extraFiles.get('tokenizer.json');
  const tokConfig = extraFiles.get('tokenizer_config.json');
  return {
    name,
    config,
    configJson,
    tokenizerJson: tok ? await readJson(tok, `${name}/tokenizer.json`) : null,
    tokenizerConfigJson: tokConfig ? await readJson(tokConfig, `${name}/tokenizer_config.json`) : null,
  };
}

/** Opens a model: config parsed and supported, every weight present with its shape, the tokenizer read. */
export async function openModel(checkpoint: Checkpoint): Promise<OpenedModel> {
  const files = await readModelFiles(checkpoint.name, checkpoint.extraFiles);
  const weights = checkpointWeightSource(checkpoint);
  checkWeights(files.config, weights, checkpoint.name);
  const tokenizer = files.tokenizerJson === null ? null : new HfTokenizer(files.tokenizerJson, files.tokenizerConfigJson, checkpoint.name);
  return { ...files, weights, tokenizer };
}
