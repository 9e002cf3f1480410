/**
 * A method parameter as the studio holds it while a person edits it: the text typed ("0.5", a layer
 * gradient "0, 0.5, 1", "true"), or the conditions a YAML recipe gave ("mlp → 0.3, otherwise 0.5"),
 * kept as they are. Checked against the registry's declaration (kind, range: parameterChecks.ts) into
 * the recipe's ParameterSetting, or an error in words for the field.
 */
import { numberProblem } from '../../../merge/program/parameterChecks';
import type { ParameterSpec } from '../../../merge/methods/types';
import type { ConditionalEntry, ParameterSetting, SettingValue } from '../../../merge/params';

export type ParamInput = string | { conditions: ConditionalEntry[] };

export interface ParamCheck {
  /** undefined: unset (the method's default, or the top-level value for a model). */
  setting?: ParameterSetting;
  error?: string;
}

/** Numbers as a person writes them: "0.5", "0.1, 0.9", "[0, 0.5, 1]". */
function numbersOf(text: string): { values: number[]; bad?: string } {
  const items = text.trim().replace(/^\[|\]$/g, '').split(/[,\s]+/).filter((x) => x !== '');
  const values: number[] = [];
  for (const item of items) {
    const v = Number(item);
    if (!Number.isFinite(v)) return { values, bad: item };
    values.push(v);
  }
  return { values };
}

function checkValue(spec: ParameterSpec, value: SettingValue): string | undefined {
  if (spec.kind === 'boolean') return typeof value === 'boolean' ? undefined : 'must be true or false';
  const list = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && spec.level === 'recipe') return 'is one value for the whole merge, not a list';
  for (const v of list) {
    if (typeof v !== 'number') return `must be a number, got ${JSON.stringify(v)}`;
    const problem = numberProblem(spec, v);
    if (problem) return `${problem}, got ${v}`;
  }
  return undefined;
}

/**
 * The setting a field holds, or what is wrong with it. `required`: empty is an error (a parameter the
 * method needs and no other level gives).
 */
export function checkParamInput(spec: ParameterSpec, input: ParamInput | undefined, required: boolean): ParamCheck {
  if (input !== undefined && typeof input !== 'string') {
    for (const e of input.conditions) {
      const problem = checkValue(spec, e.value);
      if (problem) return { error: `${spec.name}${e.filter ? ` (filter ${e.filter})` : ''} ${problem}` };
    }
    return { setting: { kind: 'conditional', entries: input.conditions } };
  }
  const text = (input ?? '').trim();
  if (text === '') return required ? { error: `${spec.name} is required: ${spec.description}` } : {};
  if (spec.kind === 'boolean') {
    if (text === 'true' || text === 'false') return { setting: { kind: 'value', value: text === 'true' } };
    return { error: `${spec.name} must be true or false` };
  }
  const { values, bad } = numbersOf(text);
  if (bad !== undefined) return { error: `${spec.name}: '${bad}' is not a number` };
  if (values.length === 0) return required ? { error: `${spec.name} is required: ${spec.description}` } : {};
  const value: SettingValue = values.length === 1 && !text.includes(',') && !text.startsWith('[') ? values[0] : values;
  const problem = checkValue(spec, value);
  if (problem) return { error: `${spec.name} ${problem}` };
  return { setting: { kind: 'value', value } };
}

/** How a recipe's setting is shown in a field: "0.5", "0, 0.5, 1", "true", or its conditions kept whole. */
export function paramInputOf(setting: ParameterSetting): ParamInput {
  if (setting.kind === 'conditional') return { conditions: setting.entries.map(({ filter, value }) => (filter === undefined ? { value } : { filter, value })) };
  const v = setting.value;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/** The conditions in one line: "mlp → 0.3; self_attn → 0, 1; otherwise 0.5". */
export function conditionsText(conditions: ConditionalEntry[]): string {
  return conditions
    .map((c) => `${c.filter === undefined || c.filter === '*' ? 'otherwise' : c.filter} → ${Array.isArray(c.value) ? `[${c.value.join(', ')}]` : String(c.value)}`)
    .join('; ');
}
