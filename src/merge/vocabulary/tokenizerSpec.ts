/**
 * mergekit's tokenizer settings of a recipe: `tokenizer_source: base | union | <model>` and the
 * `tokenizer:` block (`source`, per-token `tokens:` with `source`/`force`, `pad_to_multiple_of`), read
 * from the recipe's YAML with the line of every problem, checked against the recipe's models, and
 * written back as mergekit reads them (docs/tokenizers.md).
 */
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { RecipeError, type RecipeProblem } from '../recipeTypes';
import type { TokenizerSpec, TokenSetting, TokenRowSource } from './tokenizerTypes';

export type { TokenRowSource, TokenSetting, TokenizerSpec } from './tokenizerTypes';

type LineOf = (node: unknown) => number | undefined;

/** The `tokenizer:` block, or undefined with its problems recorded. mergekit's default source is union. */
export function parseTokenizerBlock(node: YamlNode | undefined, keyNode: unknown, lineOf: LineOf, problems: RecipeProblem[]): TokenizerSpec | undefined {
  const fail = (n: unknown, message: string) => problems.push({ line: lineOf(n), message });
  if (!isMap(node)) {
    fail(node ?? keyNode, 'tokenizer must be a mapping with source (base, union or a model), tokens and pad_to_multiple_of');
    return undefined;
  }
  const spec: TokenizerSpec = { source: 'union', tokens: [], line: lineOf(keyNode) };
  let ok = true;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as YamlNode | null;
    if (key === 'source') {
      const s = modelName(value);
      if (s === undefined) {
        fail(value ?? pair.key, 'tokenizer source must be base, union or one of the models');
        ok = false;
      } else {
        spec.source = s;
        spec.sourceLine = lineOf(value);
      }
    } else if (key === 'pad_to_multiple_of') {
      const v = isScalar(value) ? value.value : undefined;
      if (v === null || v === undefined) continue;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) spec.padToMultipleOf = v;
      else {
        fail(value ?? pair.key, `pad_to_multiple_of must be a whole number of 1 or more, got ${JSON.stringify(isScalar(value) ? value.value : 'a list')}`);
        ok = false;
      }
    } else if (key === 'tokens') {
      if (value === null || (isScalar(value) && value.value === null)) continue;
      if (!isMap(value)) {
        fail(value, 'tokens must be a mapping of token → {source: …, force: …}');
        ok = false;
        continue;
      }
      for (const t of value.items) {
        const setting = parseTokenSetting(t.key, t.value as YamlNode | null, lineOf, fail);
        if (setting) spec.tokens.push(setting);
        else ok = false;
      }
    } else {
      fail(pair.key, `unknown key '${key}' in tokenizer (expected source, tokens and pad_to_multiple_of)`);
      ok = false;
    }
  }
  return ok ? spec : undefined;
}

function parseTokenSetting(keyNode: unknown, value: YamlNode | null, lineOf: LineOf, fail: (n: unknown, m: string) => void): TokenSetting | undefined {
  const token = isScalar(keyNode) ? String(keyNode.value) : undefined;
  if (token === undefined || token === '') {
    fail(keyNode, 'each key of tokens is a token, such as <|im_start|>');
    return undefined;
  }
  const setting: TokenSetting = { token, line: lineOf(keyNode) };
  if (value === null || (isScalar(value) && value.value === null)) return setting;
  if (!isMap(value)) {
    fail(value, `token ${token}: expected {source: …, force: …}`);
    return undefined;
  }
  for (const pair of value.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const v = pair.value as YamlNode | null;
    if (key === 'force') {
      if (isScalar(v) && typeof v.value === 'boolean') setting.force = v.value;
      else {
        fail(v ?? pair.key, `token ${token}: force must be true or false`);
        return undefined;
      }
    } else if (key === 'source') {
      const source = parseRowSource(token, v, pair.key, lineOf, fail);
      if (!source) return undefined;
      setting.source = source;
    } else {
      fail(pair.key, `token ${token}: unknown key '${key}' (expected source and force)`);
      return undefined;
    }
  }
  return setting;
}

function parseRowSource(token: string, node: YamlNode | null, keyNode: unknown, lineOf: LineOf, fail: (n: unknown, m: string) => void): TokenRowSource | undefined {
  const name = modelName(node);
  if (name !== undefined) return { kind: 'model', model: name };
  if (!isMap(node)) {
    fail(node ?? keyNode, `token ${token}: source must be a model, {kind: zero} or {kind: model_token, model: …, token: …}`);
    return undefined;
  }
  const fields = new Map<string, unknown>();
  for (const p of node.items) fields.set(isScalar(p.key) ? String(p.key.value) : '', isScalar(p.value) ? p.value.value : p.value);
  const kind = fields.get('kind');
  if (kind === 'zero') {
    const extra = [...fields.keys()].filter((k) => k !== 'kind');
    if (extra.length === 0) return { kind: 'zero' };
    fail(node, `token ${token}: a zero source takes no ${extra.join(', ')}`);
    return undefined;
  }
  if (kind === 'model_token') {
    const model = fields.get('model');
    const tok = fields.get('token');
    const id = fields.get('token_id');
    const extra = [...fields.keys()].filter((k) => !['kind', 'model', 'token', 'token_id'].includes(k));
    if (typeof model !== 'string' || model.trim() === '') fail(node, `token ${token}: a model_token source needs model: the model whose row is taken`);
    else if ((tok === undefined) === (id === undefined)) fail(node, `token ${token}: a model_token source needs exactly one of token and token_id`);
    else if (id !== undefined && !(typeof id === 'number' && Number.isInteger(id) && id >= 0)) fail(node, `token ${token}: token_id must be a whole number of 0 or more, got ${JSON.stringify(id)}`);
    else if (tok !== undefined && typeof tok !== 'string' && typeof tok !== 'number') fail(node, `token ${token}: token must be a token's text`);
    else if (extra.length > 0) fail(node, `token ${token}: unknown key '${extra[0]}' in a model_token source (expected model, token or token_id)`);
    else return id !== undefined ? { kind: 'model_token', model: model.trim(), tokenId: id as number } : { kind: 'model_token', model: model.trim(), token: String(tok) };
    return undefined;
  }
  fail(node, `token ${token}: source kind must be zero or model_token, got ${JSON.stringify(kind ?? null)}`);
  return undefined;
}

function modelName(node: YamlNode | null | undefined): string | undefined {
  if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).trim() !== '') return String(node.value).trim();
  return undefined;
}

/**
 * A `tokenizer:` block kept in a file of its own (`souplab search --tokenizer FILE`): the block's mapping
 * (source, tokens, pad_to_multiple_of), or a mapping with a `tokenizer:` key, as a recipe holds it; the
 * models it names checked against `modelNames`. Throws a RecipeError naming the file and line of each problem.
 */
export function parseTokenizerBlockText(text: string, fileName: string, modelNames: string[]): TokenizerSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  if (doc.errors.length > 0) throw new RecipeError(fileName, doc.errors.map((e) => ({ line: e.linePos?.[0].line, message: `YAML syntax error: ${e.message.split('\n')[0]}` })));
  let node = doc.contents as YamlNode | null;
  let keyNode: unknown = node;
  if (isMap(node)) {
    const wrapped = node.items.find((p) => isScalar(p.key) && p.key.value === 'tokenizer');
    if (wrapped) {
      if (node.items.length > 1) throw new RecipeError(fileName, [{ line: lineOf(node), message: 'a tokenizer file holds the tokenizer: block alone (source, tokens, pad_to_multiple_of), or those keys themselves' }]);
      keyNode = wrapped.key;
      node = wrapped.value as YamlNode | null;
    }
  }
  const problems: RecipeProblem[] = [];
  const spec = parseTokenizerBlock(node ?? undefined, keyNode, lineOf, problems);
  if (spec) checkTokenizerSettings({ tokenizer: spec }, modelNames, problems);
  if (problems.length > 0 || !spec) throw new RecipeError(fileName, problems.length > 0 ? problems : [{ message: 'no tokenizer block' }]);
  return spec;
}

/** The block as mergekit's YAML (recipeWrite.ts). */
export function tokenizerBlockToPlain(spec: TokenizerSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { source: spec.source };
  if (spec.tokens.length > 0) {
    const tokens: Record<string, unknown> = {};
    for (const t of spec.tokens) {
      const entry: Record<string, unknown> = {};
      if (t.source) entry.source = rowSourceToPlain(t.source);
      if (t.force !== undefined) entry.force = t.force;
      tokens[t.token] = entry;
    }
    out.tokens = tokens;
  }
  if (spec.padToMultipleOf !== undefined) out.pad_to_multiple_of = spec.padToMultipleOf;
  return out;
}

function rowSourceToPlain(s: TokenRowSource): unknown {
  if (s.kind === 'model') return s.model;
  if (s.kind === 'zero') return { kind: 'zero' };
  return s.tokenId !== undefined ? { kind: 'model_token', model: s.model, token_id: s.tokenId } : { kind: 'model_token', model: s.model, token: s.token };
}

/**
 * The recipe's tokenizer settings against its models: not both forms (mergekit refuses that), every
 * model named is one the recipe merges, a per-token source has what it needs.
 */
export function checkTokenizerSettings(
  settings: { tokenizerSource?: string; tokenizerSourceLine?: number; tokenizer?: TokenizerSpec },
  modelPaths: string[],
  problems: RecipeProblem[],
): void {
  const known = new Set(modelPaths);
  const list = modelPaths.join(', ');
  const { tokenizer } = settings;
  if (settings.tokenizerSource !== undefined && tokenizer) {
    problems.push({ line: tokenizer.line, message: 'give either tokenizer_source or a tokenizer: block, not both (mergekit refuses both)' });
    return;
  }
  const source = tokenizer?.source ?? settings.tokenizerSource;
  const sourceLine = tokenizer ? tokenizer.sourceLine ?? tokenizer.line : settings.tokenizerSourceLine;
  if (source !== undefined && source !== 'base' && source !== 'union' && !known.has(source)) {
    problems.push({ line: sourceLine, message: `tokenizer source '${source}' is not one of the recipe's models (base, union or one of: ${list})` });
  }
  for (const t of tokenizer?.tokens ?? []) {
    if (!t.source) {
      problems.push({ line: t.line, message: `token ${t.token} has no source: say which model's row it takes (source: <model>), or {kind: zero}` });
      continue;
    }
    if (t.source.kind !== 'zero' && !known.has(t.source.model)) {
      problems.push({ line: t.line, message: `token ${t.token}: source model '${t.source.model}' is not one of the recipe's models (${list})` });
    }
  }
}
