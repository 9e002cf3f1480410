/**
 * Writing a Recipe as mergekit YAML, so that a recipe made or normalised by SoupLab runs unchanged in
 * mergekit: model paths exactly as given (never turned into bare names mergekit would take for
 * Hugging Face ids), long dtype names, number lists inline, and every parameter mergekit requires
 * written out (a model SoupLab read without a weight gets the registry's default, 1).
 */
import { Document, isMap, isScalar, isSeq } from 'yaml';
import type { FloatDtype } from '../formats/dtype';
import { findMethod, parameterOf } from './methods/registry';
import type { ParameterMap, ParameterSetting } from './params';
import type { Recipe } from './recipeTypes';
import { tokenizerBlockToPlain } from './vocabulary/tokenizerSpec';

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

/** The recipe as mergekit YAML (see the top of the file). */
export function recipeToYaml(recipe: Recipe): string {
  const method = findMethod(recipe.method);
  const weightSpec = method ? parameterOf(method, 'weight') : undefined;
  const usesGlobalWeight = recipe.parameters.weight !== undefined;
  const plain: Record<string, unknown> = {};
  plain.merge_method = recipe.method;
  if (recipe.baseModel) plain.base_model = recipe.baseModel.path;
  plain.models = recipe.models.map((m) => {
    const params = mapToPlain(m.parameters);
    // mergekit requires a weight of every model but the base of a method that takes task vectors from it.
    const isBase = recipe.baseModel?.path === m.model.path && method?.needs.base !== 'ignored';
    if (weightSpec?.required && params.weight === undefined && !usesGlobalWeight && !isBase) {
      return { model: m.model.path, parameters: { weight: weightSpec.default ?? 1, ...params } };
    }
    return Object.keys(params).length > 0 ? { model: m.model.path, parameters: params } : { model: m.model.path };
  });
  if (recipe.slices) {
    delete plain.models;
    plain.slices = recipe.slices.map((sl) => {
      const out: Record<string, unknown> = {
        sources: sl.sources.map((src) => {
          const params = mapToPlain(src.parameters);
          const entry: Record<string, unknown> = { model: src.model.path, layer_range: [...src.layerRange] };
          if (Object.keys(params).length > 0) entry.parameters = params;
          return entry;
        }),
      };
      if (Object.keys(sl.parameters).length > 0) out.parameters = mapToPlain(sl.parameters);
      return out;
    });
  }
  if (Object.keys(recipe.parameters).length > 0) plain.parameters = mapToPlain(recipe.parameters);
  if (recipe.dtype) plain.dtype = DTYPE_NAMES[recipe.dtype];
  if (recipe.outDtype) plain.out_dtype = DTYPE_NAMES[recipe.outDtype];
  if (recipe.tokenizerSource !== undefined) plain.tokenizer_source = recipe.tokenizerSource;
  if (recipe.tokenizer) plain.tokenizer = tokenizerBlockToPlain(recipe.tokenizer);
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
