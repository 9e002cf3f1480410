/**
 * The output vocabulary of a merge and where each model's embedding rows come from, with mergekit's
 * semantics (mergekit/tokenizer/build.py and embed.py, read for their behaviour; docs/tokenizers.md):
 *
 * - the output vocabulary is the base's, one model's, or the union: the base's tokens at their ids,
 *   then the tokens other models add, each once, at the next ids (a model's plain vocabulary first,
 *   then the added tokens, models in recipe order, each in id order), then the `tokens:` of the
 *   tokenizer block that are still missing;
 * - each model keeps its own row of every token it has; a token it lacks (or every model, for a token
 *   set with `force`) gets the fallback row: the `tokens:` source when given; else the row of the only
 *   model that has it; else the base's (when the recipe names a base_model); else the average of the
 *   models that have it; zeros when none;
 * - with `pad_to_multiple_of` the rows are padded to a multiple, each padding row the mean of the
 *   model's rows of real tokens.
 *
 * Pure: it takes the vocabularies and returns plain data; permutedRows.ts reads the rows it names.
 */
import { InputError } from '../../errors';
import type { ModelVocab } from './modelVocab';
import { tokensById } from './modelVocab';
import type { TokenizerSpec } from './tokenizerSpec';

export interface VocabMember {
  /** The recipe's path of the model (how the tokenizer settings name it). */
  path: string;
  vocab: ModelVocab;
}

/** A fallback row: zeros, or the mean of rows of members (one row: a copy). */
export type FallbackRow = { kind: 'zero' } | { kind: 'rows'; from: { member: number; row: number }[] };

/** A token of the output that the base lacks, and the models that bring it (union) or lack it. */
export interface AddedToken {
  token: string;
  id: number;
  /** Labels of the models that have the token. */
  from: string[];
}

export interface AlignedVocabulary {
  /** The output's tokens by id (holes of a tokenizer with gaps are empty strings). */
  tokens: string[];
  /** The output's embedding rows: tokens.length, padded to pad_to_multiple_of. */
  rows: number;
  /** Per member: output id → the member's own row, or −1 when it lacks the token. */
  permutations: Int32Array[];
  /** Output id → its fallback row, for every token some member lacks (or that is forced). */
  fallbacks: Map<number, FallbackRow>;
  /** Output ids every member takes from its fallback (force: true). */
  forced: Set<number>;
  /** Tokens of the output that the base does not have. */
  added: AddedToken[];
  /** The source of the output tokenizer: 'base', 'union' or a member's index. */
  source: 'base' | 'union' | number;
  /** The new added_tokens entries of the output tokenizer.json (union, and tokens: the tokenizer block adds). */
  newAddedTokens: Record<string, unknown>[];
  /** Things worth saying (a token no model has). */
  notes: string[];
}

/** The vocabulary settings of a recipe in one form (tokenizer_source is a tokenizer: block with only a source). */
export function effectiveSpec(recipe: { tokenizerSource?: string; tokenizer?: TokenizerSpec }): TokenizerSpec | undefined {
  if (recipe.tokenizer) return recipe.tokenizer;
  if (recipe.tokenizerSource !== undefined) return { source: recipe.tokenizerSource, tokens: [] };
  return undefined;
}

/**
 * `members[baseIndex]` is the base of the vocabulary (the recipe's base_model, else its first model, as
 * mergekit's build_tokenizer takes it). `rowBase` is whether it is also the base of the fallback rows:
 * mergekit's PermutedEmbeddings prefers the base's row only when the recipe names a base_model.
 */
export function alignVocabulary(members: VocabMember[], baseIndex: number, spec: TokenizerSpec, rowBase = true): AlignedVocabulary {
  const base = members[baseIndex];
  const indexOf = (path: string): number => {
    const i = members.findIndex((m) => m.path === path);
    if (i < 0) throw new InputError(`tokenizer: model ${path} is not one of the recipe's models`);
    return i;
  };
  const source: AlignedVocabulary['source'] = spec.source === 'base' || spec.source === 'union' ? spec.source : indexOf(spec.source);

  const out = new Map<string, number>(typeof source === 'number' ? members[source].vocab.ids : base.vocab.ids);
  let next = Math.max(-1, ...out.values()) + 1;
  const newAddedTokens: Record<string, unknown>[] = [];
  const append = (token: string, entry: Record<string, unknown>) => {
    if (out.has(token)) return;
    out.set(token, next);
    newAddedTokens.push({ ...entry, id: next, content: token });
    next++;
  };
  if (source === 'union') {
    // mergekit: the plain vocabularies first (a token some model adds as a special token waits for its entry), then the added tokens.
    const addedEntries = new Map<string, Record<string, unknown>>();
    const ordered = [baseIndex, ...members.map((_, i) => i).filter((i) => i !== baseIndex)];
    for (const i of ordered) for (const [t, e] of members[i].vocab.added) if (!addedEntries.has(t)) addedEntries.set(t, e);
    for (const i of ordered) {
      for (const t of tokensById(members[i].vocab)) if (!members[i].vocab.added.has(t) && !addedEntries.has(t)) append(t, plainAddedToken(t));
    }
    for (const [t, e] of addedEntries) append(t, withoutId(e));
  }
  for (const t of spec.tokens) append(t.token, plainAddedToken(t.token));

  const size = next;
  const tokens = new Array<string>(size).fill('');
  for (const [t, id] of out) tokens[id] = t;
  const pad = spec.padToMultipleOf;
  const rows = pad && size % pad !== 0 ? (Math.floor(size / pad) + 1) * pad : size;

  const permutations = members.map((m) => {
    const p = new Int32Array(size).fill(-1);
    for (let id = 0; id < size; id++) {
      const own = tokens[id] === '' ? undefined : m.vocab.ids.get(tokens[id]);
      if (own !== undefined) p[id] = own;
    }
    return p;
  });

  const settings = new Map(spec.tokens.map((t) => [t.token, t]));
  const fallbacks = new Map<number, FallbackRow>();
  const forced = new Set<number>();
  const notes: string[] = [];
  const noModel: string[] = [];
  for (let id = 0; id < size; id++) {
    const token = tokens[id];
    if (token === '') continue;
    const having = members.map((_, i) => i).filter((i) => permutations[i][id] >= 0);
    const setting = settings.get(token);
    if (setting?.force) forced.add(id);
    if (!setting && having.length === members.length) continue;
    if (setting?.source) {
      fallbacks.set(id, configuredRow(token, id, setting.source, members, permutations, indexOf));
    } else if (having.length === 1) fallbacks.set(id, { kind: 'rows', from: [{ member: having[0], row: permutations[having[0]][id] }] });
    else if (having.length === 0) {
      fallbacks.set(id, { kind: 'zero' });
      noModel.push(token);
    } else if (rowBase && permutations[baseIndex][id] >= 0) fallbacks.set(id, { kind: 'rows', from: [{ member: baseIndex, row: permutations[baseIndex][id] }] });
    else fallbacks.set(id, { kind: 'rows', from: having.map((i) => ({ member: i, row: permutations[i][id] })) });
  }
  if (noModel.length > 0) notes.push(`${noModel.length} token${noModel.length > 1 ? 's' : ''} of the output vocabulary in no model get zero rows: ${listSome(noModel)}`);

  const added: AddedToken[] = [];
  for (let id = 0; id < size; id++) {
    const token = tokens[id];
    if (token === '' || base.vocab.ids.has(token)) continue;
    added.push({ token, id, from: members.filter((_, i) => permutations[i][id] >= 0).map((m) => m.vocab.label) });
  }
  return { tokens, rows, permutations, fallbacks, forced, added, source, newAddedTokens, notes };
}

function configuredRow(
  token: string,
  id: number,
  source: NonNullable<TokenizerSpec['tokens'][number]['source']>,
  members: VocabMember[],
  permutations: Int32Array[],
  indexOf: (path: string) => number,
): FallbackRow {
  if (source.kind === 'zero') return { kind: 'zero' };
  const member = indexOf(source.model);
  const label = members[member].vocab.label;
  if (source.kind === 'model') {
    const row = permutations[member][id];
    if (row < 0) throw new InputError(`tokenizer: token ${JSON.stringify(token)} takes its row from ${source.model}, which does not have it`);
    return { kind: 'rows', from: [{ member, row }] };
  }
  if (source.tokenId !== undefined) {
    if (source.tokenId >= members[member].vocab.rows) {
      throw new InputError(`tokenizer: token ${JSON.stringify(token)} takes row ${source.tokenId} of ${label}, whose embedding has ${members[member].vocab.rows} rows`);
    }
    return { kind: 'rows', from: [{ member, row: source.tokenId }] };
  }
  const row = members[member].vocab.ids.get(source.token!);
  if (row === undefined) throw new InputError(`tokenizer: token ${JSON.stringify(token)} takes the row of ${JSON.stringify(source.token)} in ${source.model}, which has no such token`);
  return { kind: 'rows', from: [{ member, row }] };
}

/** An added_tokens entry as Hugging Face's add_tokens() makes it for a plain string. */
function plainAddedToken(content: string): Record<string, unknown> {
  return { content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false };
}

function withoutId(e: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = e;
  return rest;
}

export function listSome(items: string[], n = 5): string {
  const shown = items.slice(0, n).join(', ');
  return items.length > n ? `${shown}, … (${items.length} in all)` : shown;
}
