/**
 * Task files: the user's own evaluation items. A task file is one category of the score table.
 *
 *   multiple choice  JSONL, one item per line. SoupLab's own shape is lm-evaluation-harness's
 *                    {"query", "choices", "gold"} (optionally "target_delimiter", default " "). Items in
 *                    the shapes of common lm-eval datasets are read with lm-eval's templates:
 *                      ARC        {"question", "choices": {"text", "label"}, "answerKey"}
 *                      HellaSwag  {"ctx_a", "ctx_b", "activity_label", "endings", "label"}
 *                      PIQA       {"goal", "sol1", "sol2", "label"}
 *                      MMLU       {"question", "choices": [4 strings], "answer": 0–3}
 *   perplexity       a .txt file (one document), or JSONL whose items have a "text" field (one
 *                    document per line).
 *
 * Bad items never stop the others: each one becomes a problem line naming the file and the line,
 * and the caller scores what is sound and exits 2.
 */

export interface MultipleChoiceItem {
  /** 1-based line of the JSONL file: how problems and diagnostics name the item. */
  line: number;
  query: string;
  choices: string[];
  gold: number;
  /** Put between query and choice, as lm-eval's `target_delimiter` (default " "). */
  delimiter: string;
}

export interface PerplexityDocument {
  line: number;
  text: string;
}

export type TaskFile =
  | { name: string; file: string; kind: 'multiple_choice'; items: MultipleChoiceItem[]; problems: string[] }
  | { name: string; file: string; kind: 'perplexity'; documents: PerplexityDocument[]; problems: string[] };

/** The category name of a task file: its base name without the extension ("arc-easy.jsonl" → "arc-easy"). */
export function taskNameOf(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.(jsonl|ndjson|json|txt)$/i, '') || base;
}

/** True for the file names a task folder contributes. */
export function isTaskFileName(name: string): boolean {
  return /\.(jsonl|ndjson|txt)$/i.test(name) && !name.startsWith('.');
}

/** Parses one task file. Never throws for content: every fault is a problem line. */
export function parseTaskFile(file: string, text: string): TaskFile {
  const name = taskNameOf(file);
  if (/\.txt$/i.test(file)) {
    const problems = text.trim() === '' ? [`${file}: empty file: no text to score`] : [];
    return { name, file, kind: 'perplexity', documents: text.trim() === '' ? [] : [{ line: 1, text }], problems };
  }
  const problems: string[] = [];
  const objects: { line: number; value: Record<string, unknown> }[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      problems.push(`${file} line ${i + 1}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${file} line ${i + 1}: an item must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
      return;
    }
    objects.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  if (objects.length === 0) {
    if (problems.length === 0) problems.push(`${file}: empty file: no items`);
    return { name, file, kind: 'multiple_choice', items: [], problems };
  }
  // The kind is the majority's: a file of texts with one stray item reports the stray, not 99 texts.
  const texts = objects.filter((o) => typeof o.value.text === 'string' && !looksMultipleChoice(o.value)).length;
  if (texts * 2 > objects.length) {
    const documents: PerplexityDocument[] = [];
    for (const o of objects) {
      if (typeof o.value.text !== 'string') problems.push(`${file} line ${o.line}: no "text" field (a perplexity file has one text per line)`);
      else if (o.value.text.trim() === '') problems.push(`${file} line ${o.line}: "text" is empty`);
      else documents.push({ line: o.line, text: o.value.text });
    }
    return { name, file, kind: 'perplexity', documents, problems };
  }
  const items: MultipleChoiceItem[] = [];
  for (const o of objects) {
    const r = readMultipleChoice(o.value);
    if (typeof r === 'string') problems.push(`${file} line ${o.line}: ${r}`);
    else items.push({ line: o.line, ...r });
  }
  return { name, file, kind: 'multiple_choice', items, problems };
}

function looksMultipleChoice(v: Record<string, unknown>): boolean {
  return 'choices' in v || 'endings' in v || 'sol1' in v || 'gold' in v;
}

type Parsed = Omit<MultipleChoiceItem, 'line'>;

/** One JSON object as a multiple-choice item, or the reason it is not one. */
function readMultipleChoice(v: Record<string, unknown>): Parsed | string {
  const delimiter = typeof v.target_delimiter === 'string' ? v.target_delimiter : ' ';
  let parsed: { query: unknown; choices: unknown; gold: unknown; goldName: string };
  if (typeof v.query === 'string' || 'gold' in v) {
    parsed = { query: v.query, choices: v.choices, gold: v.gold, goldName: 'gold' };
  } else if (isArcChoices(v.choices)) {
    // lm-eval arc_easy / arc_challenge: "Question: {{question}}\nAnswer:", gold = label.index(answerKey).
    const labels = v.choices.label.map(String);
    const key = v.answerKey === undefined ? undefined : String(v.answerKey);
    parsed = { query: typeof v.question === 'string' ? `Question: ${v.question}\nAnswer:` : undefined, choices: v.choices.text, gold: key === undefined ? undefined : labels.indexOf(key), goldName: 'answerKey' };
    if (key !== undefined && !labels.includes(key)) return `answerKey "${key}" is not one of the labels ${labels.join(', ')}`;
  } else if (Array.isArray(v.endings)) {
    // lm-eval hellaswag: preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()), gold = int(label).
    const ctxB = typeof v.ctx_b === 'string' ? v.ctx_b : '';
    const ctx = typeof v.ctx_a === 'string' ? `${v.ctx_a} ${ctxB.charAt(0).toUpperCase()}${ctxB.slice(1)}` : v.ctx;
    const query = typeof ctx === 'string' ? hellaswagPreprocess(`${typeof v.activity_label === 'string' ? `${v.activity_label}: ` : ''}${ctx}`) : undefined;
    parsed = { query, choices: v.endings.map((e) => (typeof e === 'string' ? hellaswagPreprocess(e) : e)), gold: toIndex(v.label), goldName: 'label' };
  } else if (typeof v.goal === 'string') {
    // lm-eval piqa: "Question: {{goal}}\nAnswer:", choices [sol1, sol2].
    parsed = { query: `Question: ${v.goal}\nAnswer:`, choices: [v.sol1, v.sol2], gold: toIndex(v.label), goldName: 'label' };
  } else if (typeof v.question === 'string' && Array.isArray(v.choices) && 'answer' in v) {
    // lm-eval mmlu: the question, the lettered options, "Answer:"; choices are the letters.
    const letters = v.choices.map((_, i) => String.fromCharCode(65 + i));
    const options = v.choices.map((c, i) => `${letters[i]}. ${String(c).trim()}`).join('\n');
    parsed = { query: `${v.question.trim()}\n${options}\nAnswer:`, choices: letters, gold: toIndex(v.answer), goldName: 'answer' };
  } else {
    parsed = { query: v.query ?? v.question, choices: v.choices, gold: v.gold ?? v.label ?? v.answer, goldName: 'gold' };
  }
  const { query, choices, gold, goldName } = parsed;
  if (typeof query !== 'string') return 'no "query" (the text the choices continue)';
  if (choices === undefined || (Array.isArray(choices) && choices.length === 0)) return 'no choices';
  if (!Array.isArray(choices) || choices.some((c) => typeof c !== 'string')) return '"choices" must be a list of strings';
  if (choices.length < 2) return `only one choice ("${choices[0]}"); multiple choice needs two or more`;
  if (gold === undefined || gold === null) return `no "${goldName}" (the index of the right choice)`;
  if (typeof gold !== 'number' || !Number.isInteger(gold)) return `"${goldName}" must be a whole-number index, got ${JSON.stringify(gold)}`;
  if (gold < 0 || gold >= choices.length) return `"${goldName}" ${gold} is out of range for ${choices.length} choices (0–${choices.length - 1})`;
  return { query, choices: choices as string[], gold, delimiter };
}

function isArcChoices(c: unknown): c is { text: unknown[]; label: unknown[] } {
  return typeof c === 'object' && c !== null && Array.isArray((c as { text?: unknown }).text) && Array.isArray((c as { label?: unknown }).label);
}

/** "2" or 2 → 2; anything else unchanged (and then refused with its value). */
function toIndex(x: unknown): unknown {
  return typeof x === 'string' && /^\d+$/.test(x.trim()) ? Number(x) : x;
}

/** lm-eval's hellaswag `preprocess`: strip, " [title]" → ". ", drop [bracketed] tags, collapse double spaces. */
export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}
