/**
 * Recipes in mergekit's YAML schema (notes/interop.md), both ways: parseRecipe reads a mergekit file
 * into a typed Recipe, naming the line of every problem; recipeToYaml writes one back so that a recipe
 * made in SoupLab runs unchanged in mergekit.
 *
 * Methods merged today: linear (with `normalize`, default true; a list of models without weights is a
 * uniform soup) and task_arithmetic (base + λ·Σ wᵢ(xᵢ − base), λ = `parameters.lambda`, default 1;
 * `normalize` default false as in mergekit). TIES, DARE and SLERP are recognised and refused for now;
 * their parameters (density, t, …) already parse as settings, so adding them touches the method table
 * and the plan, not the parser.
 *
 * Two lenient extensions over mergekit, written out explicitly by recipeToYaml: a model without a
 * `weight` gets weight 1, and `fp32`/`fp16`/`bf16` are accepted as dtype names.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Document } from 'yaml';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { InputError } from '../errors';
import { parseFloatDtypeName, type FloatDtype } from '../formats/dtype';
import type { ConditionalEntry, ParameterMap, ParameterSetting, SettingValue } from './params';

export type SupportedMethod = 'linear' | 'task_arithmetic';

/** Methods SoupLab merges, with the parameters each reads (per model, and recipe-wide). */
export const METHODS: Record<SupportedMethod, { needsBase: boolean; modelParameters: string[]; mergeParameters: string[] }> = {
  linear: { needsBase: false, modelParameters: ['weight'], mergeParameters: ['normalize'] },
  task_arithmetic: { needsBase: true, modelParameters: ['weight'], mergeParameters: ['normalize', 'lambda'] },
};

/** mergekit methods that SoupLab knows of but does not merge yet. */
export const NOT_YET_SUPPORTED_METHODS = [
  'ties', 'dare_ties', 'dare_linear', 'slerp', 'nuslerp', 'multislerp', 'breadcrumbs', 'breadcrumbs_ties',
  'della', 'della_linear', 'model_stock', 'passthrough', 'karcher', 'arcee_fusion', 'sce', 'nearswap',
] as const;

/** Parameters of other mergekit methods: kept (with a warning) when a recipe names them, never an error. */
const OTHER_KNOWN_PARAMETERS = ['density', 'epsilon', 'gamma', 'rescale', 'int8_mask', 't', 'filter_wise', 'select_topk', 'lambda', 'normalize'];

/** Top-level keys SoupLab does not act on but keeps for the round trip. */
const PASSTHROUGH_KEYS = ['name', 'chat_template', 'tokenizer'] as const;

export interface ModelRef {
  /** As written in the recipe: a path (relative to the recipe's folder) or a Hugging Face id. */
  path: string;
  line?: number;
}

export interface RecipeModel {
  model: ModelRef;
  parameters: ParameterMap;
  line?: number;
}

export interface Recipe {
  method: SupportedMethod;
  baseModel?: ModelRef;
  models: RecipeModel[];
  /** Recipe-wide `parameters:` (lower precedence than a model's own). */
  parameters: ParameterMap;
  /** mergekit's load dtype; SoupLab computes in f32 and uses it only as the default output dtype. */
  dtype?: FloatDtype;
  outDtype?: FloatDtype;
  /** `base`, `union` or a model; SoupLab copies the tokenizer of the base (or first) model. */
  tokenizerSource?: string;
  /** Keys SoupLab keeps but does not use (name, chat_template, tokenizer), written back as they were. */
  passthrough: Record<string, unknown>;
  /** Where the recipe's lines are, for messages about it after parsing (plan errors). */
  fileName?: string;
  methodLine?: number;
}

export interface ParsedRecipe {
  recipe: Recipe;
  /** Things that are legal but worth saying: unused parameters, tokenizer_source other than base. */
  warnings: string[];
}

export interface RecipeProblem {
  line?: number;
  message: string;
}

/** A recipe that cannot be merged; the message names the file and line of the first problem. */
export class RecipeError extends InputError {
  override name = 'RecipeError';
  constructor(
    readonly fileName: string,
    readonly problems: RecipeProblem[],
  ) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super(`${formatWhere(fileName, first.line)}${first.message}${more}`);
  }
}

function formatWhere(fileName: string, line: number | undefined): string {
  return line !== undefined ? `${fileName} line ${line}: ` : `${fileName}: `;
}

/** "recipe.yaml line 7: " for messages about a recipe element after parsing. */
export function recipeWhere(recipe: Recipe, line: number | undefined): string {
  return formatWhere(recipe.fileName ?? 'recipe', line);
}

const KNOWN_TOP_LEVEL = new Set([
  'merge_method', 'base_model', 'models', 'slices', 'modules', 'parameters', 'dtype', 'out_dtype', 'tokenizer_source',
  ...PASSTHROUGH_KEYS,
]);

/** Parses a mergekit recipe. Throws RecipeError naming the line of each problem. */
export function parseRecipe(text: string, fileName = 'recipe.yaml'): ParsedRecipe {
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
      fail(pair.key, `unknown key '${key}' (a mergekit recipe has merge_method, base_model, models, parameters, dtype, out_dtype, tokenizer_source)`);
      continue;
    }
    entries.set(key, pair);
  }
  const valueOf = (key: string): YamlNode | undefined => entries.get(key)?.value as YamlNode | undefined;

  // merge_method
  let method: SupportedMethod | undefined;
  const methodPair = entries.get('merge_method');
  const methodLine = methodPair ? lineOf(methodPair.key) : undefined;
  if (!methodPair) {
    missing.push({ line: 1, message: 'merge_method is missing (linear or task_arithmetic)' });
  } else {
    const node = methodPair.value as YamlNode;
    const name = isScalar(node) && typeof node.value === 'string' ? node.value.trim() : undefined;
    if (name === undefined) fail(node ?? methodPair.key, `merge_method must be a name such as linear, got ${describeNode(node)}`);
    else if (name in METHODS) method = name as SupportedMethod;
    else if ((NOT_YET_SUPPORTED_METHODS as readonly string[]).includes(name)) {
      fail(node, `merge method '${name}' is not supported yet (SoupLab merges with linear and task_arithmetic)`);
    } else {
      fail(node, `unknown merge method '${name}' (SoupLab merges with linear and task_arithmetic)`);
    }
  }

  // models / slices / modules
  if (entries.has('slices') || entries.has('modules')) {
    const key = entries.has('slices') ? 'slices' : 'modules';
    if (entries.has('models')) fail(entries.get(key)!.key, `give either models or ${key}, not both`);
    else fail(entries.get(key)!.key, `${key} are not supported yet: list whole models under models:`);
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
  if (entries.has('parameters')) parameters = parseParameterMap(valueOf('parameters'), entries.get('parameters')!.key, 'merge') ?? {};

  // dtypes
  const dtype = entries.has('dtype') ? parseDtype('dtype') : undefined;
  const outDtype = entries.has('out_dtype') ? parseDtype('out_dtype') : undefined;

  let tokenizerSource: string | undefined;
  if (entries.has('tokenizer_source')) {
    const node = valueOf('tokenizer_source');
    if (isScalar(node) && typeof node.value === 'string') {
      tokenizerSource = node.value;
      if (tokenizerSource !== 'base') {
        warnings.push(`${formatWhere(fileName, lineOf(node))}tokenizer_source '${tokenizerSource}' is not supported: the tokenizer files are copied from the base (or first) model`);
      }
    } else fail(node, `tokenizer_source must be base, union or a model, got ${describeNode(node)}`);
  }

  const passthrough: Record<string, unknown> = {};
  for (const key of PASSTHROUGH_KEYS) {
    const node = valueOf(key);
    if (entries.has(key)) passthrough[key] = node === undefined || node === null ? null : (node as { toJSON(): unknown }).toJSON();
  }

  // Cross-field checks, once the parts parsed.
  if (method) {
    const spec = METHODS[method];
    if (spec.needsBase && !baseModel && entries.has('merge_method')) {
      problems.push({ line: methodLine, message: `${method} needs base_model: the model the task vectors are taken from` });
    }
    if (method === 'task_arithmetic' && baseModel && models.length > 0 && models.every((m) => m.model.path === baseModel!.path)) {
      problems.push({ line: lineOf(entries.get('models')!.key), message: 'task_arithmetic needs at least one model besides base_model' });
    }
    checkParameterNames(method, parameters, models);
    if (method === 'linear' && baseModel && !models.some((m) => m.model.path === baseModel!.path) && !parameters.weight) {
      warnings.push(
        `${formatWhere(fileName, baseModel.line)}base_model ${baseModel.path} is not among the models and has no weight: it is not averaged, only the source of non-float tensors and config files`,
      );
    }
  }
  const seen = new Map<string, number | undefined>();
  for (const m of models) {
    if (seen.has(m.model.path)) {
      problems.push({ line: m.model.line, message: `model ${m.model.path} is listed twice (also on line ${seen.get(m.model.path)})` });
    }
    seen.set(m.model.path, m.model.line);
  }

  if (problems.length + missing.length > 0) {
    throw new RecipeError(fileName, [...problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)), ...missing]);
  }
  return {
    recipe: {
      method: method!,
      baseModel,
      models,
      parameters,
      dtype,
      outDtype,
      tokenizerSource,
      passthrough,
      fileName,
      methodLine,
    },
    warnings,
  };

  // ---- helpers that record problems ----

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
        params = parseParameterMap(pair.value as YamlNode, pair.key, 'model') ?? {};
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

  function parseModelRef(node: YamlNode | undefined, keyNode: unknown, what: string): ModelRef | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).trim() !== '') {
      return { path: String(node.value).trim(), line: lineOf(node) };
    }
    if (isMap(node)) {
      fail(node, `${what} must be a path to a .safetensors file or a model folder; LoRA and nested model references are not supported yet`);
      return undefined;
    }
    fail(node ?? keyNode, `${what} must be a path to a .safetensors file or a model folder, got ${describeNode(node)}`);
    return undefined;
  }

  function parseParameterMap(node: YamlNode | undefined, keyNode: unknown, level: 'merge' | 'model'): ParameterMap | undefined {
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
      const setting = parseSetting(name, pair.value as YamlNode, pair.key, level);
      if (setting) out[name] = setting;
    }
    return out;
  }

  function parseSetting(name: string, node: YamlNode | undefined, keyNode: unknown, level: 'merge' | 'model'): ParameterSetting | undefined {
    const line = lineOf(node ?? keyNode);
    if (level === 'model' && (name === 'normalize' || name === 'lambda')) {
      fail(keyNode, `${name} applies to the whole merge: put it under the top-level parameters:`);
      return undefined;
    }
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

  function checkParameterNames(m: SupportedMethod, merge: ParameterMap, ms: RecipeModel[]): void {
    const spec = METHODS[m];
    const usable = new Set([...spec.modelParameters, ...spec.mergeParameters]);
    const note = (name: string, setting: ParameterSetting) => {
      if (usable.has(name)) return;
      const where = formatWhere(fileName, setting.line);
      if (OTHER_KNOWN_PARAMETERS.includes(name)) warnings.push(`${where}parameter '${name}' is not used by ${m}; it is kept in the recipe`);
      else problems.push({ line: setting.line, message: `unknown parameter '${name}' for ${m} (it reads ${[...usable].join(', ')})` });
    };
    for (const [name, s] of Object.entries(merge)) note(name, s);
    for (const model of ms) for (const [name, s] of Object.entries(model.parameters)) note(name, s);
  }
}

/** What a parameter's values must be. */
function parameterKind(name: string): 'number' | 'boolean' | 'any' {
  if (name === 'normalize' || name === 'rescale' || name === 'int8_mask') return 'boolean';
  if (name === 'weight' || name === 'lambda' || name === 'density' || name === 't' || name === 'epsilon' || name === 'gamma') return 'number';
  return 'any';
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

// ---- Writing ----

const DTYPE_NAMES: Record<FloatDtype, string> = { F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function settingToPlain(s: ParameterSetting): unknown {
  if (s.kind === 'value') return s.value;
  return s.entries.map((e) => (e.filter !== undefined ? { filter: e.filter, value: e.value } : { value: e.value }));
}

function mapToPlain(m: ParameterMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = settingToPlain(v);
  return out;
}

/**
 * The recipe as mergekit YAML. Models without a weight are written with weight 1 (mergekit requires
 * one); lists of numbers are written inline, as mergekit writes them.
 */
export function recipeToYaml(recipe: Recipe): string {
  const usesGlobalWeight = recipe.parameters.weight !== undefined;
  const plain: Record<string, unknown> = {};
  plain.merge_method = recipe.method;
  if (recipe.baseModel) plain.base_model = recipe.baseModel.path;
  plain.models = recipe.models.map((m) => {
    const params = mapToPlain(m.parameters);
    const isBase = recipe.baseModel?.path === m.model.path;
    if (params.weight === undefined && !usesGlobalWeight && !(isBase && recipe.method === 'task_arithmetic')) {
      return { model: m.model.path, parameters: { weight: 1, ...params } };
    }
    return Object.keys(params).length > 0 ? { model: m.model.path, parameters: params } : { model: m.model.path };
  });
  if (Object.keys(recipe.parameters).length > 0) plain.parameters = mapToPlain(recipe.parameters);
  if (recipe.dtype) plain.dtype = DTYPE_NAMES[recipe.dtype];
  if (recipe.outDtype) plain.out_dtype = DTYPE_NAMES[recipe.outDtype];
  if (recipe.tokenizerSource !== undefined) plain.tokenizer_source = recipe.tokenizerSource;
  for (const [k, v] of Object.entries(recipe.passthrough)) plain[k] = v;

  const doc = new Document(plain);
  // Number lists inline ("weight: [0, 0.5, 1]"), everything else in block style.
  const visit = (node: unknown): void => {
    if (isSeq(node)) {
      if (node.items.length > 0 && node.items.every((i) => isScalar(i) && typeof i.value === 'number')) node.flow = true;
      else node.items.forEach(visit);
    } else if (isMap(node)) {
      node.items.forEach((p) => visit(p.value));
    }
  };
  visit(doc.contents);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
