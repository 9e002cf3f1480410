import { InputError } from '../errors';
import { parseJsonLenient } from './pythonJson';
import { isLmEvalResults, lmEvalToRawTable, noResultsObject, type LmEvalOptions } from './lmEval';
import { parseDelimited, parseJsonTable, type RawTable } from './rawTable';
import { buildScoreTable, type ScoreTable, type ScoreTableOptions } from './scoreTable';

/** A file's name and text, however it was read (fs in Node, File.text() in the browser). */
export interface TextFile {
  name: string;
  text: string;
}

export type TableFormat = 'csv' | 'tsv' | 'json' | 'lm-eval';

export interface ParseOptions extends ScoreTableOptions, LmEvalOptions {
  /** Forces a format for every file; detected from name and content otherwise. */
  format?: TableFormat;
}

/** Detects a file's format: JSON by content (lm-eval when it has a "results" object), else delimited text. */
export function detectFormat(file: TextFile): { format: TableFormat; json?: unknown } {
  const trimmed = file.text.replace(/^\ufeff/, '').trimStart();
  if (/\.json$/i.test(file.name) || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let json: unknown;
    try {
      json = parseJsonLenient(trimmed);
    } catch (e) {
      if (/\.json$/i.test(file.name)) throw new InputError(`${file.name}: not valid JSON: ${(e as Error).message}`);
      return { format: /\.tsv$/i.test(file.name) ? 'tsv' : 'csv' };
    }
    return { format: isLmEvalResults(json) ? 'lm-eval' : 'json', json };
  }
  return { format: /\.(tsv|tab)$/i.test(file.name) ? 'tsv' : 'csv' };
}

/**
 * Refuses a file that cannot be a score table at all, naming what it is: binary data read as text holds
 * NULs or many U+FFFD replacement characters (invalid UTF-8), which no exported table does.
 */
function checkIsText(file: TextFile): void {
  const sample = file.text.slice(0, 65536);
  let replaced = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0) throw new InputError(`${file.name}: not a text table (binary data)`);
    if (c === 0xfffd) replaced++;
  }
  if (replaced > 8 && replaced * 100 > sample.length) throw new InputError(`${file.name}: not a text table (binary data)`);
}

/** Top-level keys of an lm-evaluation-harness results file besides "results". */
const LM_EVAL_KEYS = ['config', 'configs', 'versions', 'n-shot', 'higher_is_better', 'lm_eval_version', 'git_hash', 'n-samples', 'group_subtasks'];

/**
 * JSON that is an lm-eval results file in all but its "results" (a run that crashed, a samples or config
 * dump, another tool's file named results*.json) would otherwise read as a table of no scores.
 */
function checkLmEvalLike(name: string, json: unknown): void {
  if (json === null || typeof json !== 'object' || Array.isArray(json) || isLmEvalResults(json)) return;
  const keys = Object.keys(json);
  const named = /(^|[\\/])results[^\\/]*\.json$/i.test(name);
  if (named || keys.includes('results') || keys.some((k) => LM_EVAL_KEYS.includes(k))) throw new InputError(noResultsObject(name));
}

/** A table with a header and no rows, or nothing at all, has nothing to analyse: say so for that file. */
function checkHasRows(raw: RawTable): RawTable {
  if (raw.header.length === 0 && raw.rows.length === 0) throw new InputError(`${raw.source}: empty — no header and no rows`);
  if (raw.rows.length === 0) throw new InputError(`${raw.source}: a header and no rows`);
  return raw;
}

/** Reads files into raw tables: every lm-eval results file becomes one table together; others one each. */
export function readRawTables(files: TextFile[], options: ParseOptions = {}): RawTable[] {
  const raws: RawTable[] = [];
  const lmEval: { name: string; value: unknown }[] = [];
  for (const file of files) {
    checkIsText(file);
    const detected = options.format === undefined || options.format === 'json' || options.format === 'lm-eval' ? detectFormat(file) : undefined;
    const format = options.format ?? detected!.format;
    if (format === 'lm-eval') {
      lmEval.push({ name: file.name, value: detected?.json ?? parseJsonLenient(file.text.replace(/^\ufeff/, '')) });
    } else if (format === 'json') {
      if (detected?.json === undefined) throw new InputError(`${file.name}: not valid JSON`);
      checkLmEvalLike(file.name, detected.json);
      raws.push(checkHasRows(parseJsonTable(detected.json, file.name)));
    } else {
      raws.push(checkHasRows(parseDelimited(file.text, file.name, format === 'tsv' ? '\t' : undefined)));
    }
  }
  if (lmEval.length > 0) raws.push(lmEvalToRawTable(lmEval, options));
  return raws;
}

/**
 * Parses one or more score files into a single table (joined on model names): CSV/TSV (BFCL style
 * `78.25%` and `N/A` welcome), JSON rows or `{model: {category: score}}`, lm-eval results files.
 */
export function parseScoreTable(files: TextFile | TextFile[], options: ParseOptions = {}): ScoreTable {
  const list = Array.isArray(files) ? files : [files];
  if (list.length === 0) throw new InputError('no score table given');
  return buildScoreTable(readRawTables(list, options), options);
}

