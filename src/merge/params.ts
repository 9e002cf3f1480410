/**
 * Recipe parameters as mergekit defines them, and how one is evaluated for one tensor.
 *
 * A setting is a scalar (`weight: 0.5`), a gradient (`weight: [0, 0.5, 1]`: interpolated linearly over
 * the layer position t), or a list of conditions (`[{filter: mlp, value: 0.3}, {value: 0.5}]`: the
 * first entry whose filter is a substring of the tensor name — or that has no filter, or filter "*" —
 * gives the value, itself a scalar or a gradient). A setting that matches nothing yields undefined, and
 * the caller falls through to the next level (model-level parameters, then the recipe's `parameters:`,
 * then the method's default), exactly as mergekit's ConfigReader does.
 *
 * Layer position t, as mergekit computes it:
 * - a tensor of layer i (its name holds `layers.i.`, `h.i.`, `blocks.i.` or `layer.i.`) of a model
 *   with n layers has t = i / (n − 1), and t = 1 when n = 1;
 * - tensors outside the layers — mergekit's pre-weights (embeddings) and post-weights (final norm,
 *   lm_head) — have t = 0: mergekit's MergePlanner.plan_module reads both with a ConfigReader made
 *   with t = 0 (mergekit/plan.py at a6e4028; SoupLab had t = 1 for post-weights before);
 * - in a model without numbered layers every tensor has t = 0 (the gradient's first value).
 */

/** What a plain (unconditional) setting holds. */
export type SettingValue = number | boolean | string | number[] | string[];

export interface ConditionalEntry {
  /** Substring of the tensor name; undefined or "*" matches every tensor. */
  filter?: string;
  value: SettingValue;
  /** 1-based line in the recipe, when it came from one. */
  line?: number;
}

export type ParameterSetting =
  | { kind: 'value'; value: SettingValue; line?: number }
  | { kind: 'conditional'; entries: ConditionalEntry[]; line?: number };

/** Parameter name → setting, in the recipe's order. */
export type ParameterMap = Record<string, ParameterSetting>;

export type EvaluatedValue = number | boolean | string;

/** A setting's value for one tensor at layer position t ∈ [0, 1]; undefined when no condition matches. */
export function evaluateSetting(setting: ParameterSetting, tensorName: string, t: number): EvaluatedValue | undefined {
  if (setting.kind === 'value') return evaluateValue(setting.value, t);
  for (const entry of setting.entries) {
    if (entry.filter === undefined || entry.filter === '*' || tensorName.includes(entry.filter)) {
      return evaluateValue(entry.value, t);
    }
  }
  return undefined;
}

function evaluateValue(value: SettingValue, t: number): EvaluatedValue {
  if (!Array.isArray(value)) return value;
  if (value.length === 0) throw new RangeError('empty gradient');
  const scaled = t * (value.length - 1);
  const i0 = Math.floor(scaled);
  const i1 = Math.min(value.length - 1, i0 + 1);
  if (typeof value[0] === 'string') return (value as string[])[Math.min(i0, value.length - 1)];
  const v = value as number[];
  const frac = scaled - i0;
  return frac === 0 ? v[i0] : (1 - frac) * v[i0] + frac * v[i1];
}

const LAYER_INDEX = /(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)(?:\.|$)/;

/** The layer index in a tensor name such as model.layers.12.mlp.up_proj.weight, or undefined. */
export function layerIndexOf(tensorName: string): number | undefined {
  const m = LAYER_INDEX.exec(tensorName);
  return m ? Number(m[1]) : undefined;
}

/** Number of layers of a model: one more than the largest layer index among its tensor names (0 when none). */
export function layerCountOf(tensorNames: Iterable<string>): number {
  let max = -1;
  for (const name of tensorNames) {
    const i = layerIndexOf(name);
    if (i !== undefined && i > max) max = i;
  }
  return max + 1;
}

/** Layer position t ∈ [0, 1] of a tensor, as described at the top of this file. */
export function layerPositionOf(tensorName: string, layerCount: number): number {
  if (layerCount === 0) return 0;
  const i = layerIndexOf(tensorName);
  if (i !== undefined) return layerCount > 1 ? Math.min(1, i / (layerCount - 1)) : 1;
  return 0;
}

/**
 * Resolves a parameter for one model and one tensor with mergekit's precedence: the model's own
 * setting, then the recipe-wide one, then `fallback`. Settings whose filters match nothing fall through.
 */
export function resolveParameter(
  name: string,
  tensorName: string,
  t: number,
  levels: (ParameterMap | undefined)[],
): EvaluatedValue | undefined {
  for (const level of levels) {
    const setting = level?.[name];
    if (!setting) continue;
    const v = evaluateSetting(setting, tensorName, t);
    if (v !== undefined) return v;
  }
  return undefined;
}
