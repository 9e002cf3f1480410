/**
 * A search over models whose tokenizers differ: their embedding and LM-head rows aligned once, before the
 * first point, to the output vocabulary `tokenizer_source` names — union, base (the first model's), or a
 * model of the search by name — or that mergekit's `tokenizer:` block describes (its source, per-token
 * rows, pad_to_multiple_of; models by the search's names), with mergekit's semantics (src/merge/vocabulary).
 * Every point is then souped from the aligned rows: the weights and tokenizer `souplab merge` gives the
 * point's recipe, which keeps every model of the search (weight 0 included) and the same setting
 * (pointRecipeYaml), so that its vocabulary is the search's.
 */
import { InputError } from '../errors';
import { prepareVocabulary } from '../merge/vocabulary/prepareVocabulary';
import { tokenizerBlockToPlain } from '../merge/vocabulary/tokenizerSpec';
import type { TokenizerSpec, TokenRowSource } from '../merge/vocabulary/tokenizerTypes';
import type { PlannedModel } from './soupLoader';

/** How a search aligns its models' vocabularies: a tokenizer_source or a tokenizer: block (not both), models named by the search's names. */
export interface VocabularySetting {
  tokenizerSource?: string;
  tokenizer?: TokenizerSpec;
}

/** The setting as a recipe writes it (models by their recipe paths): what every point's recipe and best.yaml carry. */
export interface RecipeVocabulary {
  tokenizerSource?: string;
  /** mergekit's tokenizer: block as plain YAML data. */
  tokenizer?: Record<string, unknown>;
}

/** True when the setting aligns anything (a source or a block). */
export function hasVocabularySetting(s: VocabularySetting | undefined): s is VocabularySetting {
  return s !== undefined && (s.tokenizerSource !== undefined || s.tokenizer !== undefined);
}

/** The setting as a search's manifest keeps it (models by name): trials aligned one way are not reused for another. */
export function manifestVocabulary(s: VocabularySetting | undefined): { tokenizerSource?: string; tokenizer?: Record<string, unknown> } {
  if (s?.tokenizer) return { tokenizer: tokenizerBlockToPlain(s.tokenizer) };
  return s?.tokenizerSource === undefined ? {} : { tokenizerSource: s.tokenizerSource };
}

/** The block with its models named by their recipe paths; a name that is not a model of the search is refused. */
export function recipeTokenizerBlock(models: readonly { name: string; path: string }[], spec: TokenizerSpec): TokenizerSpec {
  const pathOf = (name: string, what: string): string => {
    const m = models.find((x) => x.name === name);
    if (!m) throw new InputError(`tokenizer block: ${what} '${name}' is not one of the models of the search (${models.map((x) => x.name).join(', ')})`);
    return m.path;
  };
  const rowSource = (token: string, s: TokenRowSource): TokenRowSource => (s.kind === 'zero' ? s : { ...s, model: pathOf(s.model, `token ${token}: source model`) });
  return {
    ...spec,
    source: spec.source === 'union' || spec.source === 'base' ? spec.source : pathOf(spec.source, 'source'),
    tokens: spec.tokens.map((t) => (t.source ? { ...t, source: rowSource(t.token, t.source) } : t)),
  };
}

/** The setting with its models named by `models`' paths, as a recipe (and the alignment) takes it. */
function resolvedSetting(models: readonly { name: string; path: string }[], s: VocabularySetting): { tokenizerSource: string } | { tokenizer: TokenizerSpec } {
  if (s.tokenizerSource !== undefined && s.tokenizer) throw new InputError('give either a tokenizer source or a tokenizer block, not both (mergekit refuses both)');
  return s.tokenizer ? { tokenizer: recipeTokenizerBlock(models, s.tokenizer) } : { tokenizerSource: recipeTokenizerSource(models, s.tokenizerSource!) };
}

/** The setting's recipe fields, models named by `models`' paths; undefined without a setting. */
export function recipeVocabulary(models: readonly { name: string; path: string }[], s: VocabularySetting | undefined): RecipeVocabulary | undefined {
  if (!hasVocabularySetting(s)) return undefined;
  const resolved = resolvedSetting(models, s);
  return 'tokenizer' in resolved ? { tokenizer: tokenizerBlockToPlain(resolved.tokenizer) } : resolved;
}

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

/** Without a tokenizer setting the models are as given (their rows must then match: the pre-flight says where they do not). */
export async function alignSearchModels(models: PlannedModel[], setting: VocabularySetting | undefined): Promise<AlignedModels> {
  if (!hasVocabularySetting(setting)) {
    const warning = await positionalVocabularyWarning(models, CLI_ALIGNMENT);
    return { models, lines: [], notes: warning === null ? [] : [warning] };
  }
  const recipe = resolvedSetting(models, setting);
  const checkpoints = new Map(models.map((m) => [m.path, m.checkpoint]));
  const result = await prepareVocabulary(recipe, models.map((m) => ({ path: m.path, label: m.name })), checkpoints);
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
