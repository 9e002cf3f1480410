/**
 * A PEFT LoRA adapter's adapter_config.json, as PEFT reads it (src/peft/tuners/lora/config.py and
 * layer.py): the scale is lora_alpha / r, or lora_alpha / √r with use_rslora. Settings SoupLab cannot
 * merge faithfully are refused, naming the key.
 */
import { InputError } from '../../errors';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** The pickled form PEFT writes with safe_serialization=False; SoupLab never unpickles. */
export const ADAPTER_PICKLE_FILE = 'adapter_model.bin';

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  useDora: boolean;
  /** The base stores these weights transposed ([in, out], GPT-2's Conv1D). */
  fanInFanOut: boolean;
  /** Module names or a regular expression (PEFT matches a string as a full-match regex). */
  targetModules: string[] | string | undefined;
  modulesToSave: string[];
  /** The base the adapter was trained on (a hub id or a path), as PEFT recorded it. */
  baseModel: string | undefined;
  /** Per-module ranks and alphas: a key is a regular expression for the end of a module name. */
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

/** The factor s in W + s·B·A. */
export function loraScale(c: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** PEFT's get_pattern_key: the first pattern that matches the end of the module's name (after a dot). */
function patternValue(patterns: Record<string, number>, module: string): number | undefined {
  for (const [key, value] of Object.entries(patterns)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${key})$`);
    } catch {
      continue;
    }
    if (re.test(module)) return value;
  }
  return undefined;
}

/** A module's rank, alpha and scale, with rank_pattern and alpha_pattern applied (PEFT's LoraModel._create_and_replace). */
export function moduleLora(c: LoraConfig, module: string): { r: number; loraAlpha: number; scale: number } {
  const r = patternValue(c.rankPattern, module) ?? c.r;
  const loraAlpha = patternValue(c.alphaPattern, module) ?? c.loraAlpha;
  return { r, loraAlpha, scale: loraScale({ r, loraAlpha, useRslora: c.useRslora }) };
}

/** Keys whose non-default values change the merged weights in ways SoupLab does not implement. */
const REFUSED_WHEN_SET: Record<string, string> = {
  layers_to_transform: 'a layer selection',
  trainable_token_indices: 'trainable tokens',
  use_qalora: 'QA-LoRA',
  lora_bias: 'LoRA biases',
  megatron_config: 'Megatron layers',
  layer_replication: 'layer replication',
  target_parameters: 'LoRA on parameters',
  alora_invocation_tokens: 'activated LoRA',
};

export function parseLoraConfig(text: string, where: string): LoraConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where}: ${ADAPTER_CONFIG_FILE} is not valid JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`${where}: ${ADAPTER_CONFIG_FILE} is not a JSON object`);
  const c = parsed as Record<string, unknown>;
  const bad = (key: string, why: string) => new InputError(`${where}: ${ADAPTER_CONFIG_FILE} key "${key}" ${why}`);

  const peftType = c.peft_type;
  if (peftType !== undefined && peftType !== 'LORA') throw bad('peft_type', `is ${JSON.stringify(peftType)}; SoupLab merges LoRA adapters only`);
  for (const [key, what] of Object.entries(REFUSED_WHEN_SET)) {
    const v = c[key];
    const unset = v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
    if (!unset) throw bad(key, `is set (${what}), which SoupLab cannot merge yet`);
  }
  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r)) throw bad('r', `must be a whole number, got ${JSON.stringify(r)}`);
  if (r <= 0) throw bad('r', `is ${r}; a LoRA rank must be at least 1`);
  const alpha = c.lora_alpha ?? 8; // PEFT's default
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw bad('lora_alpha', `must be a number, got ${JSON.stringify(alpha)}`);
  const flag = (key: string): boolean => {
    const v = c[key] ?? false;
    if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const tm = c.target_modules;
  let targetModules: LoraConfig['targetModules'];
  if (typeof tm === 'string') targetModules = tm;
  else if (Array.isArray(tm) && tm.every((m) => typeof m === 'string')) targetModules = tm as string[];
  else if (tm === undefined || tm === null) targetModules = undefined;
  else throw bad('target_modules', `must be a list of module names or a regular expression, got ${JSON.stringify(tm)}`);
  const mts = c.modules_to_save ?? [];
  if (!Array.isArray(mts) || !mts.every((m) => typeof m === 'string')) throw bad('modules_to_save', `must be a list of module names, got ${JSON.stringify(mts)}`);
  const base = c.base_model_name_or_path;
  const pattern = (key: string): Record<string, number> => {
    const v = c[key] ?? {};
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw bad(key, `must map module name patterns to numbers, got ${JSON.stringify(v)}`);
    }
    const out = v as Record<string, number>;
    for (const [k, x] of Object.entries(out)) if (key === 'rank_pattern' && (!Number.isInteger(x) || x < 1)) throw bad(key, `gives ${JSON.stringify(k)} the rank ${x}; a LoRA rank must be a whole number of at least 1`);
    return out;
  };
  return {
    r,
    loraAlpha: alpha,
    useRslora: flag('use_rslora'),
    useDora: flag('use_dora'),
    fanInFanOut: flag('fan_in_fan_out'),
    targetModules,
    modulesToSave: mts as string[],
    baseModel: typeof base === 'string' && base !== '' ? base : undefined,
    rankPattern: pattern('rank_pattern'),
    alphaPattern: pattern('alpha_pattern'),
  };
}

/** Whether PEFT's target_modules selects `module` (a list matches the last name parts; a string is a full-match regex). */
export function isTargetModule(targetModules: LoraConfig['targetModules'], module: string): boolean {
  if (targetModules === undefined) return true;
  if (typeof targetModules === 'string') {
    if (targetModules === 'all-linear') return true;
    try {
      return new RegExp(`^(?:${targetModules})$`).test(module);
    } catch {
      return false;
    }
  }
  return targetModules.some((t) => module === t || module.endsWith(`.${t}`));
}
