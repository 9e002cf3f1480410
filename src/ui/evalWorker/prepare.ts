/**
 * What every evaluation in the studio needs before scoring: the task files parsed and encoded with the
 * reference model's tokenizer (tokens do not depend on the weights: encoded once, scored many times),
 * and the model's config.
 */
import { InputError } from '../../errors';
import { prepareTasks, type PreparedTask } from '../../eval/evaluate';
import { parseTaskFile } from '../../eval/taskFile';
import type { Checkpoint } from '../../formats/checkpoint';
import { readModelFiles } from '../../model/load';
import { HfTokenizer } from '../../model/tokenizer';
import type { ModelConfig } from '../../model/types';
import type { TaskText } from '../taste/protocol';

export interface PreparedEvaluation {
  config: ModelConfig;
  tasks: PreparedTask[];
  /** Items that could not be scored, in words (the rest are). */
  problems: string[];
}

export async function prepareEvaluation(reference: { label: string; checkpoint: Checkpoint }, texts: TaskText[], emptyMessage: string): Promise<PreparedEvaluation> {
  if (texts.length === 0) throw new InputError(emptyMessage);
  const files = texts.map((t) => parseTaskFile(t.file, t.text));
  const where = reference.label;
  const modelFiles = await readModelFiles(where, reference.checkpoint.extraFiles);
  if (modelFiles.tokenizerJson === null) throw new InputError(`${where}: no tokenizer.json beside the weights; scoring needs the model's tokenizer (add the whole model folder)`);
  const tokenizer = new HfTokenizer(modelFiles.tokenizerJson, modelFiles.tokenizerConfigJson, where);
  const { config } = modelFiles;
  const { tasks, problems } = prepareTasks(tokenizer, files, config.maxPositionEmbeddings);
  if (tasks.length === 0) throw new InputError(problems.length > 0 ? `Nothing to score: ${problems.join('; ')}` : 'Nothing to score in the task files.');
  return { config, tasks, problems };
}
