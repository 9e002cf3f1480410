/**
 * The evaluator command of a cluster search: a shell command template with {model} (the soup's model
 * folder), {out} (a fresh folder for its results) and {point} (the point's id) put in, each shell-quoted,
 * so that paths with spaces or quotes reach the evaluator as one argument.
 */
import { InputError } from '../../errors';

const PLACEHOLDERS = ['model', 'out', 'point'] as const;
export type TemplateField = (typeof PLACEHOLDERS)[number];

/** POSIX shell single quoting: 'it'\''s' — safe for any text. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Refuses a template that cannot work: one without {model} or {out}, or with a placeholder SoupLab does not fill. */
export function checkEvaluatorTemplate(template: string, flag = '--evaluator-cmd'): void {
  for (const m of template.matchAll(/\{([A-Za-z_]+)\}/g))
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1])) throw new InputError(`${flag}: {${m[1]}} is not a placeholder; the command may use {model}, {out} and {point}`);
  if (!template.includes('{model}')) throw new InputError(`${flag} has no {model}: the command must be told which model folder to evaluate (lm-eval: --model_args pretrained={model})`);
  if (!template.includes('{out}')) throw new InputError(`${flag} has no {out}: the command must write its results there (lm-eval: --output_path {out} --log_samples)`);
}

/** The command for one point. A placeholder inside quotes of the template would be quoted twice: write them bare. */
export function fillTemplate(template: string, values: Record<TemplateField, string>): string {
  return template.replace(/\{(model|out|point)\}/g, (_, k: TemplateField) => shellQuote(values[k]));
}
