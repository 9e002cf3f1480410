/**
 * A search over models whose tokenizers differ: their embedding and LM-head rows aligned once, before the
 * first point, to the output vocabulary `tokenizer_source` names — union, base (the first model's), or a
 * model of the search by name — with mergekit's semantics (src/merge/vocabulary). Every point is then souped
 * from the aligned rows: the weights and tokenizer `souplab merge` gives the point's recipe, which keeps every
 * model of the search (weight 0 included) and the tokenizer_source (pointRecipeYaml), so that its vocabulary
 * is the search's.
 */
import { InputError } from '../errors';
import { prepareVocabulary } from '../merge/vocabulary/prepareVocabulary';
import type { PlannedModel } from './soupLoader';

export interface AlignedModels {
  /** The models, their checkpoints with rows in the output vocabulary's order (the first carries its tokenizer files). */
  models: PlannedModel[];
  /** One line per model whose vocabulary differs from the first's, and one for the output's. */
  lines: string[];
  notes: string[];
}

/** The tokenizer_source of a point's recipe: union and base as they are, a model's name as its recipe path. */
export function recipeTokenizerSource(models: readonly { name: string; path: string }[], source: string): string {
  if (source === 'union' || source === 'base') return source;
  const m = models.find((x) => x.name === source);
  if (!m) throw new InputError(`tokenizer source ${source}: not union, base or one of the models of the search (${models.map((x) => x.name).join(', ')})`);
  return m.path;
}

/** Without a tokenizer source the models are as given (their rows must then match: the pre-flight says where they do not). */
export async function alignSearchModels(models: PlannedModel[], tokenizerSource: string | undefined): Promise<AlignedModels> {
  if (tokenizerSource === undefined) {
    const warning = await positionalVocabularyWarning(models, CLI_ALIGNMENT);
    return { models, lines: [], notes: warning === null ? [] : [warning] };
  }
  const source = recipeTokenizerSource(models, tokenizerSource);
  const checkpoints = new Map(models.map((m) => [m.path, m.checkpoint]));
  const result = await prepareVocabulary({ tokenizerSource: source }, models.map((m) => ({ path: m.path, label: m.name })), checkpoints);
  if (!result) return { models, lines: [], notes: [] };
  return { models: models.map((m) => ({ ...m, checkpoint: result.checkpoints.get(m.path)! })), lines: result.lines, notes: result.notes };
}

/** How `souplab search` aligns the rows; the studio names its Ingredients view instead. */
export const CLI_ALIGNMENT = 'a tokenizer source (union, base or a model) aligns them';

/**
 * Without a tokenizer source, the sentence `souplab search` warns with and the studio's Search view shows
 * when the models' tokenizers differ (their rows are then souped by position, token ids mixed up): the
 * differences, then `alignment` (how to align them there). Null when they agree or cannot be compared.
 */
export async function positionalVocabularyWarning(models: PlannedModel[], alignment: string): Promise<string | null> {
  if (models.filter((m) => m.checkpoint.extraFiles.has('tokenizer.json')).length < 2 || !models[0].checkpoint.extraFiles.has('tokenizer.json')) return null;
  try {
    const result = await prepareVocabulary({ tokenizerSource: 'union' }, models.map((m) => ({ path: m.path, label: m.name })), new Map(models.map((m) => [m.path, m.checkpoint])));
    if (!result || (result.lines.length <= 1 && (result.aligned?.added.length ?? 0) === 0)) return null;
    return `the models' vocabularies differ (${result.lines.slice(0, -1).join('; ')}): their embedding and LM-head rows are souped by position; ${alignment}`;
  } catch {
    // What cannot be aligned is not said here: the pre-flight says what does not fit.
    return null;
  }
}
