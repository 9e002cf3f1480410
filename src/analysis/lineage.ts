import { listNames } from './names';

/**
 * What a score table says about where each model comes from, when it says it (the Open LLM
 * Leaderboard has "Base Model", "Architecture" and "#Params (B)"): the facts that decide whether
 * experts can be souped at all. Averaging weights needs one architecture and one size, and makes
 * sense for fine-tunes of one base model.
 */
export interface Lineage {
  /** The column naming each model's base model, and its value per model ('' when not given). */
  baseModel?: { column: string; values: string[] };
  architecture?: { column: string; values: string[] };
  /** Parameter count per model as the table writes it (e.g. billions), null when not given. */
  params?: { column: string; values: (number | null)[] };
  /** The license column (BFCL: "License", "Proprietary" for closed API models), '' when not given. */
  license?: { column: string; values: string[] };
}

export const BASE_MODEL_COLUMN = /^(base[ _-]?model(?:[ _-]?(?:name|id))?|base|parent[ _-]?model|finetuned[ _-]?from)$/i;
export const ARCHITECTURE_COLUMN = /^(architecture|arch|model[ _-]?architecture|model[ _-]?type)$/i;
export const LICENSE_COLUMN = /^(licen[cs]e|model[ _-]?licen[cs]e|hub[ _-]?licen[cs]e)$/i;
export const PARAMS_COLUMN = /^(#\s*params?(?:\s*\([^)]*\))?|params?(?:\s*\([^)]*\))?|parameters?(?:\s*\([^)]*\))?|n[ _-]?params|num[ _-]?params|size\s*\(b\)|model[ _-]?size(?:\s*\([^)]*\))?)$/i;

/** Whether a license cell marks open weights: a license is named and it is not a closed one ("Proprietary"). */
export function isOpenWeightLicense(license: string): boolean {
  return license !== '' && !/proprietary|closed|commercial api|api only/i.test(license);
}

/** Sizes further apart than this share cannot be one architecture's weights (embedding resizes stay well under it). */
const SIZE_TOLERANCE = 0.02;

export type Compatibility = {
  /**
   * 'ok': the table says the experts share base, architecture and size. 'unknown': it does not say.
   * 'warn': different base models (the weights may still average, but the paper soups fine-tunes of
   * one base). 'refuse': different architectures or sizes: the weights cannot be averaged.
   */
  verdict: 'ok' | 'unknown' | 'warn' | 'refuse';
  /** One sentence per finding, most serious first; empty for 'ok' and 'unknown'. */
  messages: string[];
};

function describeGroups(values: Map<string, string[]>, format: (v: string) => string = (v) => v): string {
  return [...values].map(([v, models]) => `${format(v)} (${listNames(models, 3)})`).join('; ');
}

function groupBy(experts: string[], valueOf: (model: string) => string | null): { groups: Map<string, string[]>; unknown: string[] } {
  const groups = new Map<string, string[]>();
  const unknown: string[] = [];
  for (const m of experts) {
    const v = valueOf(m);
    if (v === null || v === '') {
      unknown.push(m);
      continue;
    }
    if (!groups.has(v)) groups.set(v, []);
    groups.get(v)!.push(m);
  }
  return { groups, unknown };
}

/** Whether the table says these experts can be souped together; `models` is the table's model order. */
export function checkCompatibility(lineage: Lineage, models: readonly string[], experts: string[]): Compatibility {
  if (experts.length < 2 || (!lineage.baseModel && !lineage.architecture && !lineage.params)) return { verdict: 'unknown', messages: [] };
  const index = new Map(models.map((m, i) => [m, i]));
  const refuse: string[] = [];
  const warn: string[] = [];
  if (lineage.architecture) {
    const { values, column } = lineage.architecture;
    const { groups } = groupBy(experts, (m) => values[index.get(m) ?? -1] ?? null);
    if (groups.size > 1)
      refuse.push(`the experts have different architectures ("${column}": ${describeGroups(groups)}): their weights cannot be averaged`);
  }
  if (lineage.params) {
    const { values, column } = lineage.params;
    const sizes = experts.map((m) => values[index.get(m) ?? -1] ?? null).filter((v): v is number => v !== null && v > 0);
    if (sizes.length > 1 && Math.max(...sizes) > (1 + SIZE_TOLERANCE) * Math.min(...sizes)) {
      const { groups } = groupBy(experts, (m) => {
        const v = values[index.get(m) ?? -1];
        return v === null || v === undefined ? null : String(v);
      });
      refuse.push(`the experts have different sizes ("${column}": ${describeGroups(groups)}): their weights cannot be averaged`);
    }
  }
  if (lineage.baseModel) {
    const { values, column } = lineage.baseModel;
    const { groups, unknown } = groupBy(experts, (m) => values[index.get(m) ?? -1] ?? null);
    if (groups.size > 1)
      warn.push(
        `the experts come from different base models ("${column}": ${describeGroups(groups)}): a soup averages fine-tunes of one base model; check that these share one, or choose candidates of one base`,
      );
    if (unknown.length > 0 && groups.size > 0) warn.push(`the table gives no base model for ${listNames(unknown, 4)}`);
  }
  if (refuse.length > 0) return { verdict: 'refuse', messages: [...refuse, ...warn] };
  if (warn.length > 0) return { verdict: 'warn', messages: warn };
  return { verdict: 'ok', messages: [] };
}
