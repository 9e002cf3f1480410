/**
 * Parsing a mergekit recipe's YAML (notes/interop.md) into a Recipe, naming the line of every problem
 * in its shape: keys, model entries, parameter settings (scalars, layer gradients, filter conditions),
 * dtypes. Which methods and parameters exist is the registry's (src/merge/methods/registry.ts); the
 * checks of a recipe against its method are recipeValidate.ts.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar } from 'yaml';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { parseFloatDtypeName, type FloatDtype } from '../formats/dtype';
import { ALL_PARAMETERS, METHOD_NAMES } from './methods/registry';
import type { ConditionalEntry, ParameterMap, ParameterSetting, SettingValue } from './params';
import { parseTokenizerBlock, type TokenizerSpec } from './vocabulary/tokenizerSpec';
import { PASSTHROUGH_KEYS, RecipeError, type ModelRef, type Recipe, type RecipeModel, type RecipeProblem, type RecipeSlice, type SliceSource } from './recipeTypes';
import { splitModelRef } from '../formats/lora/modelRef';

const KNOWN_TOP_LEVEL = new Set([
  'merge_method', 'base_model', 'models', 'slices', 'modules', 'parameters', 'dtype', 'out_dtype', 'tokenizer_source', 'tokenizer',
  ...PASSTHROUGH_KEYS,
]);

/** The recipe as written, with every problem the YAML and its shapes show; the registry's checks come after (recipeValidate.ts). */
export interface RecipeDraft {
  recipe: Recipe;
  warnings: string[];
  /** Problems on real lines. */
  problems: RecipeProblem[];
  /** Absent keys: reported after the problems found on real lines, which often explain them (a typo). */
  missing: RecipeProblem[];
  /** Line of the `models:` key, when present. */
  modelsLine?: number;
}

/**
 * Reads a mergekit recipe's YAML into a Recipe. Throws RecipeError for YAML syntax errors and a
 * recipe that is not a mapping; every other problem is collected, with its line, in the draft.
 */
export function parseRecipeDraft(text: string, fileName = 'recipe.yaml'): RecipeDraft {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const problems: RecipeProblem[] = [];
  /** Absent keys: reported after the problems found on real lines, which often explain them (a typo). */
  const missing: RecipeProblem[] = [];
  const warnings: string[] = [];
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const fail = (node: unknown, message: string): void => {
    problems.push({ line: lineOf(node), message });
  };

  if (doc.errors.length > 0) {
    // An error found at the end of the text (an unclosed bracket) is reported on the last line written.
    const lastLine = text.replace(/\s+$/, '').split('\n').length;
    throw new RecipeError(
      fileName,
      doc.errors.map((e) => ({ line: e.linePos ? Math.min(e.linePos[0].line, lastLine) : undefined, message: `YAML syntax error: ${firstLine(e.message).replace(/ at line \d+, column \d+:?$/, '')}` })),
    );
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new RecipeError(fileName, [{ message: 'the recipe is empty (expected merge_method, models, …)' }]);
  }
  if (!isMap(root)) {
    throw new RecipeError(fileName, [{ line: lineOf(root), message: `a recipe is a mapping of keys (merge_method, models, …), got ${describeNode(root)}` }]);
  }

  const entries = new Map<string, Pair<unknown, unknown>>();
  for (const pair of (root as YAMLMap).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined) {
      fail(pair.key, 'keys of a recipe are plain names');
      continue;
    }
    if (!KNOWN_TOP_LEVEL.has(key)) {
      fail(pair.key, `unknown key '${key}' (a mergekit recipe has merge_method, base_model, models, parameters, dtype, out_dtype, tokenizer_source, tokenizer)`);
      continue;
    }
    entries.set(key, pair);
  }
  const valueOf = (key: string): YamlNode | undefined => entries.get(key)?.value as YamlNode | undefined;

  // merge_method
  let method: string | undefined;
  const methodPair = entries.get('merge_method');
  const methodLine = methodPair ? lineOf(methodPair.key) : undefined;
  let methodValueLine: number | undefined;
  if (!methodPair) {
    missing.push({ line: 1, message: `merge_method is missing (${METHOD_NAMES.join(', ')})` });
  } else {
    const node = methodPair.value as YamlNode;
    const name = isScalar(node) && typeof node.value === 'string' ? node.value.trim() : undefined;
    if (name === undefined) fail(node ?? methodPair.key, `merge_method must be a name such as linear, got ${describeNode(node)}`);
    else {
      method = name;
      methodValueLine = lineOf(node);
    }
  }

  // models / slices / modules
  let slices: RecipeSlice[] | undefined;
  if (entries.has('slices') || entries.has('modules')) {
    const key = entries.has('slices') ? 'slices' : 'modules';
    if (entries.has('models')) fail(entries.get(key)!.key, `give either models or ${key}, not both`);
    else if (key === 'modules') fail(entries.get(key)!.key, 'modules are not supported yet: list whole models under models:, or layer ranges under slices:');
    else slices = parseSlices(valueOf('slices'), entries.get('slices')!.key);
  }
  const models: RecipeModel[] = [];
  const modelsNode = valueOf('models');
  if (!entries.has('models')) {
    if (!entries.has('slices') && !entries.has('modules')) missing.push({ line: 1, message: 'models is missing: list the models to merge under models:' });
  } else if (!isSeq(modelsNode) || modelsNode.items.length === 0) {
    fail(modelsNode ?? entries.get('models')!.key, `models must be a list of '- model: <path>' entries, got ${describeNode(modelsNode)}`);
  } else {
    for (const item of modelsNode.items) {
      const m = parseModelEntry(item as YamlNode);
      if (m) models.push(m);
    }
  }

  // base_model
  let baseModel: ModelRef | undefined;
  if (entries.has('base_model')) baseModel = parseModelRef(valueOf('base_model'), entries.get('base_model')!.key, 'base_model');

  // parameters
  let parameters: ParameterMap = {};
  if (entries.has('parameters')) parameters = parseParameterMap(valueOf('parameters'), entries.get('parameters')!.key) ?? {};

  // dtypes
  const dtype = entries.has('dtype') ? parseDtype('dtype') : undefined;
  const outDtype = entries.has('out_dtype') ? parseDtype('out_dtype') : undefined;

  let tokenizerSource: string | undefined;
  let tokenizerSourceLine: number | undefined;
  if (entries.has('tokenizer_source')) {
    const node = valueOf('tokenizer_source');
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') {
      tokenizerSource = node.value.trim();
      tokenizerSourceLine = lineOf(node);
    } else fail(node ?? entries.get('tokenizer_source')!.key, `tokenizer_source must be base, union or a model, got ${describeNode(node)}`);
  }
  let tokenizer: TokenizerSpec | undefined;
  if (entries.has('tokenizer')) tokenizer = parseTokenizerBlock(valueOf('tokenizer'), entries.get('tokenizer')!.key, lineOf, problems);

  const passthrough: Record<string, unknown> = {};
  for (const key of PASSTHROUGH_KEYS) {
    const node = valueOf(key);
    if (entries.has(key)) passthrough[key] = node === undefined || node === null ? null : (node as { toJSON(): unknown }).toJSON();
  }

  return {
    recipe: {
      method: method ?? '',
      baseModel,
      models,
      parameters,
      dtype,
      outDtype,
      tokenizerSource,
      ...(tokenizerSourceLine !== undefined ? { tokenizerSourceLine } : {}),
      ...(tokenizer ? { tokenizer } : {}),
      passthrough,
      fileName,
      methodLine: methodValueLine ?? methodLine,
      ...(slices ? { slices } : {}),
    },
    warnings,
    problems,
    missing,
    modelsLine: entries.has('models') ? lineOf(entries.get('models')!.key) : undefined,
  };

  // ---- helpers that record problems ----

  function parseSlices(node: YamlNode | undefined, keyNode: unknown): RecipeSlice[] | undefined {
    if (!isSeq(node) || node.items.length === 0) {
      fail(node ?? keyNode, `slices must be a list of '- sources: [...]' entries, got ${describeNode(node)}`);
      return undefined;
    }
    const out: RecipeSlice[] = [];
    for (const item of node.items) {
      if (!isMap(item)) {
        fail(item, `each entry of slices is '- sources: [...]', got ${describeNode(item as YamlNode)}`);
        continue;
      }
      const slice: RecipeSlice = { sources: [], parameters: {}, line: lineOf(item) };
      let hasSources = false;
      for (const pair of item.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const value = pair.value as YamlNode;
        if (key === 'parameters') slice.parameters = parseParameterMap(value, pair.key) ?? {};
        else if (key === 'sources') {
          hasSources = true;
          if (!isSeq(value) || value.items.length === 0) fail(value ?? pair.key, `sources must be a list of '- model: <path>' entries with a layer_range, got ${describeNode(value)}`);
          else for (const src of value.items) {
            const s = parseSource(src as YamlNode);
            if (s) slice.sources.push(s);
          }
        } else fail(pair.key, `unknown key '${key}' in a slice (expected sources and parameters)`);
      }
      if (!hasSources) fail(item, 'this slice has no sources:');
      out.push(slice);
    }
    return out;
  }

  function parseSource(item: YamlNode): SliceSource | undefined {
    if (!isMap(item)) {
      fail(item, `each source is '- model: <path>' with a layer_range, got ${describeNode(item)}`);
      return undefined;
    }
    let ref: ModelRef | undefined;
    let range: [number, number] | undefined;
    let params: ParameterMap = {};
    let hasRange = false;
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const value = pair.value as YamlNode;
      if (key === 'model') ref = parseModelRef(value, pair.key, 'model');
      else if (key === 'parameters') params = parseParameterMap(value, pair.key) ?? {};
      else if (key === 'layer_range') {
        hasRange = true;
        const v = isSeq(value) ? value.items.map((i) => (isScalar(i) ? i.value : undefined)) : [];
        if (v.length === 2 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0) && (v[0] as number) < (v[1] as number)) range = [v[0] as number, v[1] as number];
        else fail(value ?? pair.key, `layer_range must be [first, end) such as [0, 16], got ${describeNode(value)}`);
      } else fail(pair.key, `unknown key '${key}' in a slice source (expected model, layer_range and parameters)`);
    }
    if (!hasRange) fail(item, 'this source has no layer_range: [first, end)');
    if (!ref || !range) return undefined;
    return { model: ref, layerRange: range, parameters: params, line: lineOf(item) };
  }

  function parseModelEntry(item: YamlNode): RecipeModel | undefined {
    if (isScalar(item) && typeof item.value === 'string') {
      // mergekit requires `- model: x`; a bare string is a common slip worth a precise message.
      fail(item, `each entry of models is '- model: <path>', got the bare string '${item.value}'`);
      return undefined;
    }
    if (!isMap(item)) {
      fail(item, `each entry of models is '- model: <path>', got ${describeNode(item)}`);
      return undefined;
    }
    let ref: ModelRef | undefined;
    let params: ParameterMap = {};
    let hasModel = false;
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key === 'model') {
        hasModel = true;
        ref = parseModelRef(pair.value as YamlNode, pair.key, 'model');
      } else if (key === 'parameters') {
        params = parseParameterMap(pair.value as YamlNode, pair.key) ?? {};
      } else {
        fail(pair.key, `unknown key '${key}' in a models entry (expected model and parameters)`);
      }
    }
    if (!hasModel) {
      fail(item, 'this models entry has no model: path');
      return undefined;
    }
    return ref ? { model: ref, parameters: params, line: lineOf(item) } : undefined;
  }

  function parseModelRef(node: YamlNode | undefined, keyNode: unknown, what: string, line?: number): ModelRef | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).trim() !== '') {
      const path = String(node.value).trim();
      // mergekit's `base+adapter`: a PEFT LoRA adapter merged into its base (src/formats/lora).
      const split = splitModelRef(path);
      if (typeof split === 'string') {
        fail(node, `${what}: ${split}`);
        return undefined;
      }
      return { path, line: line ?? lineOf(node) };
    }
    if (isMap(node)) {
      // mergekit's long form {model: base, lora: adapter} is the same reference as 'base+adapter'.
      const fields = new Map(node.items.map((p) => [isScalar(p.key) ? String(p.key.value) : '', p.value]));
      const model = fields.get('model');
      const lora = fields.get('lora');
      if (fields.size === 2 && isScalar(model) && isScalar(lora) && typeof model.value === 'string' && typeof lora.value === 'string') {
        return parseModelRef(new Scalar(`${model.value.trim()}+${lora.value.trim()}`) as YamlNode, keyNode, what, lineOf(node));
      }
      fail(node, `${what} must be a path to a .safetensors file or a model folder, or 'base+adapter' for a LoRA adapter; nested model references are not supported yet`);
      return undefined;
    }
    fail(node ?? keyNode, `${what} must be a path to a .safetensors file or a model folder, got ${describeNode(node)}`);
    return undefined;
  }

  function parseParameterMap(node: YamlNode | undefined, keyNode: unknown): ParameterMap | undefined {
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return {};
    if (!isMap(node)) {
      fail(node, `parameters must be a mapping such as 'weight: 0.5', got ${describeNode(node)}`);
      return undefined;
    }
    const out: ParameterMap = {};
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (name === undefined) {
        fail(pair.key ?? keyNode, 'parameter names are plain names');
        continue;
      }
      const setting = parseSetting(name, pair.value as YamlNode, pair.key);
      if (setting) out[name] = setting;
    }
    return out;
  }

  function parseSetting(name: string, node: YamlNode | undefined, keyNode: unknown): ParameterSetting | undefined {
    const line = lineOf(node ?? keyNode);
    if (isSeq(node) && node.items.length > 0 && node.items.every((i) => isMap(i))) {
      const entries: ConditionalEntry[] = [];
      for (const item of node.items) {
        const entry = parseConditional(name, item as YAMLMap);
        if (entry) entries.push(entry);
      }
      return entries.length === node.items.length ? { kind: 'conditional', entries, line } : undefined;
    }
    if (isMap(node)) {
      const entry = parseConditional(name, node);
      return entry ? { kind: 'conditional', entries: [entry], line } : undefined;
    }
    const value = parseValue(name, node, keyNode);
    if (value === undefined) return undefined;
    return { kind: 'value', value, line };
  }

  function parseConditional(name: string, map: YAMLMap): ConditionalEntry | undefined {
    let filter: string | undefined;
    let value: SettingValue | undefined;
    let hasValue = false;
    let ok = true;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key === 'filter') {
        const f = pair.value as YamlNode;
        if (isScalar(f) && (typeof f.value === 'string' || typeof f.value === 'number')) filter = String(f.value);
        else {
          fail(f ?? pair.key, `filter must be a piece of a tensor name such as mlp or self_attn, got ${describeNode(f)}`);
          ok = false;
        }
      } else if (key === 'value') {
        hasValue = true;
        value = parseValue(name, pair.value as YamlNode, pair.key);
        if (value === undefined) ok = false;
      } else {
        fail(pair.key, `unknown key '${key}' in a ${name} condition (expected filter and value)`);
        ok = false;
      }
    }
    if (!hasValue) {
      if (ok) fail(map, `this ${name} condition has no value`);
      return undefined;
    }
    return ok ? { filter, value: value!, line: lineOf(map) } : undefined;
  }

  /** A scalar or a gradient, checked against what the parameter needs. */
  function parseValue(name: string, node: YamlNode | undefined, keyNode: unknown): SettingValue | undefined {
    const kind = parameterKind(name);
    if (isSeq(node)) {
      if (node.items.length === 0) {
        fail(node, `${name} is an empty list; give a number or a list of numbers (a gradient over the layers)`);
        return undefined;
      }
      const values: number[] = [];
      for (const item of node.items) {
        const v = isScalar(item) ? item.value : undefined;
        if (kind === 'number' && !(typeof v === 'number' && Number.isFinite(v))) {
          fail(item, `${name} must be a number, got ${describeNode(item as YamlNode)}`);
          return undefined;
        }
        if (kind === 'boolean') {
          fail(node, `${name} must be true or false, got a list`);
          return undefined;
        }
        values.push(v as number);
      }
      if (kind === 'any') return node.toJSON() as SettingValue;
      return values;
    }
    if (!isScalar(node)) {
      fail(node ?? keyNode, `${name} must be ${kind === 'boolean' ? 'true or false' : 'a number'}, got ${describeNode(node)}`);
      return undefined;
    }
    const v = node.value;
    if (kind === 'number') {
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      fail(node, `${name} must be a number, got ${describeNode(node)}`);
      return undefined;
    }
    if (kind === 'boolean') {
      if (typeof v === 'boolean') return v;
      fail(node, `${name} must be true or false, got ${describeNode(node)}`);
      return undefined;
    }
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
    fail(node, `${name} has no value`);
    return undefined;
  }

  function parseDtype(key: 'dtype' | 'out_dtype'): FloatDtype | undefined {
    const node = valueOf(key);
    const name = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    const dtype = name !== undefined ? parseFloatDtypeName(name) : undefined;
    if (!dtype) {
      fail(node ?? entries.get(key)!.key, `${key} must be float32, float16 or bfloat16 (or fp32, fp16, bf16), got ${describeNode(node)}`);
    }
    return dtype;
  }
}

/** What a parameter's values must be, as the registry declares it (any for names no method reads). */
function parameterKind(name: string): 'number' | 'boolean' | 'any' {
  const spec = ALL_PARAMETERS.get(name);
  if (!spec) return 'any';
  return spec.kind === 'boolean' ? 'boolean' : 'number';
}

function describeNode(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'string') return `'${v}'`;
    return String(v);
  }
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a mapping';
  return 'something else';
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

