/**
 * A search's vocabulary setting from its options: `--tokenizer-source union|base|<model>`, or
 * `--tokenizer FILE`, mergekit's tokenizer: block in a YAML file of its own (its models by the search's
 * model names). Not both, as mergekit refuses both in one recipe.
 */
import { readFileSync } from 'node:fs';
import { parseTokenizerBlockText } from '../merge/vocabulary/tokenizerSpec';
import type { VocabularySetting } from '../search/searchVocabulary';
import { fsInputError } from '../node/fsErrors';
import { UsageError } from './io';

export function searchVocabularyFlags(flags: Map<string, string | true>, modelNames: string[]): VocabularySetting | undefined {
  const source = flags.get('tokenizer-source');
  const file = flags.get('tokenizer');
  if (source === true) throw new UsageError('--tokenizer-source needs union, base or one of the models');
  if (file === true) throw new UsageError('--tokenizer needs a YAML file with mergekit\'s tokenizer: block');
  if (source !== undefined && file !== undefined) throw new UsageError('give either --tokenizer-source or --tokenizer, not both (mergekit refuses tokenizer_source beside a tokenizer: block)');
  if (source !== undefined) return { tokenizerSource: source };
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fsInputError(file, e);
  }
  return { tokenizer: parseTokenizerBlockText(text, file, modelNames) };
}
