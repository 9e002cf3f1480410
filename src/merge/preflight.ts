/**
 * The pre-flight check: compares the headers of every ingredient with the reference model (the base,
 * or the first model) before a single tensor byte is read, and says in people's words what would make
 * the merge fail or surprise them. The merge does not start while `errors` is not empty.
 *
 * - errors: an ingredient that is another model altogether (one line for it, ahead of its per-tensor
 *   problems), a tensor missing from an ingredient or extra in it, a shape that differs (a vocabulary
 *   size when only the rows of an embedding or lm_head differ), a float tensor that is an integer
 *   tensor elsewhere, embeddings tied in some models and not in others;
 * - warnings: float dtypes that differ (each is read exactly and merged in f32), float formats SoupLab
 *   does not average (F8, F4, F6: copied), integer tensors whose dtype differs;
 * - infos: non-float tensors copied from the reference, tied embeddings.
 */
import type { Checkpoint } from '../formats/checkpoint';
import { isFloatDtype, type Dtype } from '../formats/dtype';
import { InputError } from '../errors';

export interface PreflightIngredient {
  /** How messages name it: the file or folder name. */
  label: string;
  checkpoint: Checkpoint;
}

export type PreflightCode =
  | 'missing-tensor'
  | 'extra-tensor'
  | 'shape-mismatch'
  | 'vocab-size'
  | 'tied-embeddings'
  | 'dtype-kind'
  | 'dtype-differs'
  | 'not-averaged'
  | 'copied'
  | 'no-tensors'
  | 'different-model'
  | 'vocabulary';

export interface PreflightIssue {
  code: PreflightCode;
  message: string;
  /** The ingredient the issue is about (absent when it is about the merge as a whole). */
  ingredient?: string;
  tensor?: string;
}

export interface PreflightReport {
  /** The merge cannot start while one of these stands. */
  errors: PreflightIssue[];
  warnings: PreflightIssue[];
  infos: PreflightIssue[];
  /** The label of the model every other is compared with (base, or first). */
  reference: string;
}

/** The pre-flight found errors: the message gives the first one and how many more there are. */
export class PreflightError extends InputError {
  override name = 'PreflightError';
  constructor(readonly report: PreflightReport) {
    const n = report.errors.length;
    super(`${report.errors[0].message}${n > 1 ? ` (and ${n - 1} more problem${n > 2 ? 's' : ''} found before reading any tensor)` : ''}`);
  }
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;
const EMBEDDING = /(?:^|\.)(?:embed_tokens|wte|word_embeddings|tok_embeddings|embeddings)\.weight$/;
const LM_HEAD = /(?:^|\.)lm_head\.weight$|^output\.weight$|^embed_out\.weight$/;
/** Names of the tensors whose rows are the vocabulary (src/merge/vocabulary permutes them). */
export { EMBEDDING as EMBEDDING_TENSOR, LM_HEAD as LM_HEAD_TENSOR };
/** Buffers some exporters save and others drop; never worth failing a merge over. */
const HARMLESS_BUFFER = /(?:rotary_emb\.inv_freq|\.attn\.masked_bias|\.attn\.bias)$/;
/** Float formats the kernels do not read: carried over from the reference, not averaged. */
const isAveragedFloat = (d: Dtype) => isFloatDtype(d);
const isOtherFloat = (d: Dtype) => /^F[468]_|^F4$|^C64$/.test(d);

function findTensor(c: Checkpoint, pattern: RegExp): string | undefined {
  for (const name of c.tensors.keys()) if (pattern.test(name)) return name;
  return undefined;
}

/**
 * Checks the ingredients against the reference (ingredients[referenceIndex], default 0). Reads only
 * what the headers already hold.
 */
export function preflight(
  ingredients: PreflightIngredient[],
  referenceIndex = 0,
  opts: { vocabulary?: 'equal' | 'cut-to-reference' | 'common-rows' } = {},
): PreflightReport {
  const errors: PreflightIssue[] = [];
  const warnings: PreflightIssue[] = [];
  const infos: PreflightIssue[] = [];
  const ref = ingredients[referenceIndex];
  const report: PreflightReport = { errors, warnings, infos, reference: ref?.label ?? '' };
  if (!ref) return report;
  const refTensors = ref.checkpoint.tensors;

  if (refTensors.size === 0) {
    errors.push({ code: 'no-tensors', ingredient: ref.label, message: `${ref.label}: holds no tensors: nothing to merge` });
    return report;
  }

  // What the reference itself holds.
  const copied: string[] = [];
  const notAveraged: string[] = [];
  for (const [name, t] of refTensors) {
    if (isAveragedFloat(t.info.dtype)) continue;
    if (isOtherFloat(t.info.dtype)) notAveraged.push(`${name} (${t.info.dtype})`);
    else copied.push(name);
  }
  if (copied.length > 0) {
    const dtypes = [...new Set(copied.map((n) => refTensors.get(n)!.info.dtype))].join(', ');
    infos.push({
      code: 'copied',
      ingredient: ref.label,
      message: `${copied.length} non-float tensor${copied.length > 1 ? 's' : ''} (${dtypes}) copied from ${ref.label}, not averaged: ${listSome(copied)}`,
    });
  }
  if (notAveraged.length > 0) {
    warnings.push({
      code: 'not-averaged',
      ingredient: ref.label,
      message: `${notAveraged.length} tensor${notAveraged.length > 1 ? 's' : ''} in a float format SoupLab does not average yet, copied from ${ref.label}: ${listSome(notAveraged)}`,
    });
  }

  const refEmbed = findTensor(ref.checkpoint, EMBEDDING);
  const refHead = findTensor(ref.checkpoint, LM_HEAD);
  if (refEmbed && !refHead && ingredients.every((g) => !findTensor(g.checkpoint, LM_HEAD))) {
    infos.push({
      code: 'tied-embeddings',
      message: `tied embeddings: no lm_head.weight in the models; the output layer shares ${refEmbed}, which is merged once`,
    });
  }

  errors.push(...differentModels(ingredients, referenceIndex));

  ingredients.forEach((ing, k) => {
    if (k === referenceIndex) return;
    const tensors = ing.checkpoint.tensors;
    const head = findTensor(ing.checkpoint, LM_HEAD);
    const embed = findTensor(ing.checkpoint, EMBEDDING);
    const dtypeDiffs = new Map<string, string[]>();
    const intDtypeDiffs: string[] = [];

    for (const [name, rt] of refTensors) {
      const t = tensors.get(name);
      if (!t) {
        if (HARMLESS_BUFFER.test(name)) {
          warnings.push({ code: 'missing-tensor', ingredient: ing.label, tensor: name, message: `${ing.label}: has no ${name} (a buffer some exporters leave out); it is copied from ${ref.label}` });
        } else if (name === refHead && embed && !head) {
          errors.push({
            code: 'tied-embeddings',
            ingredient: ing.label,
            tensor: name,
            message: `${ing.label}: tensor ${name} is missing: ${ing.label} ties its embeddings (its output layer shares ${embed}), while ${ref.label} has its own ${name} ${shapeText(rt.info.shape)}; models with tied and untied embeddings cannot be merged tensor by tensor`,
          });
        } else {
          errors.push({
            code: 'missing-tensor',
            ingredient: ing.label,
            tensor: name,
            message: `${ing.label}: tensor ${name} is missing (${ref.label} has it, ${rt.info.dtype} ${shapeText(rt.info.shape)})`,
          });
        }
        continue;
      }
      const a = rt.info;
      const b = t.info;
      if (!sameShape(a.shape, b.shape)) {
        const vocab = (EMBEDDING.test(name) || LM_HEAD.test(name)) && a.shape.length === b.shape.length && a.shape.length >= 1 && a.shape[0] !== b.shape[0] && sameShape(a.shape.slice(1), b.shape.slice(1));
        // The method's vocabulary rule (mergekit's): rows beyond the reference's, or beyond every model's, are left out.
        const rule = opts.vocabulary ?? 'equal';
        if (vocab && (rule === 'common-rows' || (rule === 'cut-to-reference' && b.shape[0] > a.shape[0]))) {
          const rows = rule === 'common-rows' ? Math.min(a.shape[0], b.shape[0]) : a.shape[0];
          warnings.push({
            code: 'vocab-size',
            ingredient: ing.label,
            tensor: name,
            message: `${ing.label}: vocabulary size ${b.shape[0]} differs from ${ref.label}'s ${a.shape[0]} (tensor ${name}); as mergekit does, only the first ${rule === 'common-rows' ? 'rows every model has' : `${rows} rows (${ref.label}'s)`} are merged`,
          });
          continue;
        }
        errors.push(
          vocab
            ? {
                code: 'vocab-size',
                ingredient: ing.label,
                tensor: name,
                message: `${ing.label}: vocabulary size ${b.shape[0]} differs from ${ref.label}'s ${a.shape[0]} (tensor ${name} has shape ${shapeText(b.shape)}, ${ref.label} has ${shapeText(a.shape)}); models with different vocabularies cannot be averaged`,
              }
            : {
                code: 'shape-mismatch',
                ingredient: ing.label,
                tensor: name,
                message: `${ing.label}: tensor ${name} has shape ${shapeText(b.shape)}, ${ref.label} has ${shapeText(a.shape)}`,
              },
        );
        continue;
      }
      const aAvg = isAveragedFloat(a.dtype);
      const bAvg = isAveragedFloat(b.dtype);
      if (aAvg !== bAvg) {
        errors.push({
          code: 'dtype-kind',
          ingredient: ing.label,
          tensor: name,
          message: `${ing.label}: tensor ${name} is ${b.dtype}, ${ref.label} has ${a.dtype}: ${aAvg ? 'a float tensor cannot be averaged with a non-float one' : 'it is copied from the reference, which is not a float tensor'}`,
        });
        continue;
      }
      if (a.dtype !== b.dtype) {
        if (aAvg) {
          const key = `${b.dtype}←${a.dtype}`;
          const list = dtypeDiffs.get(key) ?? [];
          list.push(name);
          dtypeDiffs.set(key, list);
        } else intDtypeDiffs.push(`${name} (${b.dtype}, ${ref.label}: ${a.dtype})`);
      }
    }

    for (const [name, t] of tensors) {
      if (refTensors.has(name)) continue;
      if (HARMLESS_BUFFER.test(name)) {
        warnings.push({ code: 'extra-tensor', ingredient: ing.label, tensor: name, message: `${ing.label}: ${name} (a buffer) is not in ${ref.label}; it is left out of the output` });
      } else if (name === head && refEmbed && !refHead) {
        errors.push({
          code: 'tied-embeddings',
          ingredient: ing.label,
          tensor: name,
          message: `${ing.label}: has its own ${name} ${shapeText(t.info.shape)}, while ${ref.label} ties its embeddings (no ${name}; its output layer shares ${refEmbed}); models with tied and untied embeddings cannot be merged tensor by tensor`,
        });
      } else {
        errors.push({
          code: 'extra-tensor',
          ingredient: ing.label,
          tensor: name,
          message: `${ing.label}: has tensor ${name} (${t.info.dtype} ${shapeText(t.info.shape)}), which ${ref.label} does not have`,
        });
      }
    }

    for (const [key, names] of dtypeDiffs) {
      const [mine, theirs] = key.split('←');
      warnings.push({
        code: 'dtype-differs',
        ingredient: ing.label,
        message: `${ing.label}: ${names.length} tensor${names.length > 1 ? 's are' : ' is'} ${mine} where ${ref.label} has ${theirs} (${listSome(names)}); each is read exactly and merged in f32`,
      });
    }
    if (intDtypeDiffs.length > 0) {
      warnings.push({
        code: 'dtype-differs',
        ingredient: ing.label,
        message: `${ing.label}: non-float tensors of another dtype, copied from ${ref.label} as they are there: ${listSome(intDtypeDiffs)}`,
      });
    }
  });
  return report;
}

/**
 * An ingredient whose tensor names mostly differ from every other ingredient's is another model (another
 * architecture): one line says so, where its dozens of per-tensor problems would bury the point. Judged
 * against every other ingredient, not only the reference, so the odd one out is named even when it is
 * the reference.
 */
function differentModels(ingredients: PreflightIngredient[], referenceIndex: number): PreflightIssue[] {
  const names = ingredients.map((g) => g.checkpoint.tensors);
  const common = (i: number, j: number) => {
    let n = 0;
    for (const k of names[i].keys()) if (names[j].has(k)) n++;
    return n;
  };
  // Two models are related when half the tensors of the larger one or more are in both.
  const related = (i: number, j: number) => common(i, j) * 2 >= Math.max(names[i].size, names[j].size);
  const odd = ingredients.map((_, i) => names[i].size > 0 && ingredients.every((_, j) => j === i || !related(i, j)));
  // Nothing fits with anything: the others are compared with the reference, which is not "the odd one".
  if (odd.every((o, i) => o || names[i].size === 0)) odd[referenceIndex] = false;
  const issues: PreflightIssue[] = [];
  ingredients.forEach((ing, i) => {
    if (!odd[i]) return;
    let best = 0;
    ingredients.forEach((_, j) => {
      if (j !== i) best = Math.max(best, common(i, j));
    });
    const others = ingredients.length === 2 ? ingredients[1 - i].label : 'the others';
    issues.push({
      code: 'different-model',
      ingredient: ing.label,
      message:
        best === 0
          ? `${ing.label}: a different model — no tensors in common with ${others}`
          : `${ing.label}: a different model — only ${best} of its ${names[i].size} tensors in common with ${others}`,
    });
  });
  return issues;
}

/**
 * What the report says first: one line per ingredient that is another model, and the per-tensor
 * problems of those ingredients set apart (`details`), so the lead lines are not buried.
 */
export function preflightSummary(report: PreflightReport): { lead: PreflightIssue[]; details: PreflightIssue[]; rest: PreflightIssue[] } {
  const lead = report.errors.filter((e) => e.code === 'different-model');
  const odd = new Set(lead.map((e) => e.ingredient));
  const others = report.errors.filter((e) => e.code !== 'different-model');
  // When the reference itself is the odd one, every other ingredient's problems stem from it too.
  const refOdd = odd.has(report.reference);
  const isDetail = (e: PreflightIssue) => refOdd || odd.has(e.ingredient);
  return { lead, details: others.filter(isDetail), rest: others.filter((e) => !isDetail(e)) };
}

/** Throws PreflightError when the report has errors. */
export function assertPreflight(report: PreflightReport): void {
  if (report.errors.length > 0) throw new PreflightError(report);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function listSome(names: string[], n = 3): string {
  const shown = names.slice(0, n).join(', ');
  return names.length > n ? `${shown}, … (${names.length} in all)` : shown;
}
