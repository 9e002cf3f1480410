import { InputError } from '../errors';
import { isLmEvalResults, lmEvalToRawTable, type LmEvalOptions } from './lmEval';
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

/** Reads files into raw tables: every lm-eval results file becomes one table together; others one each. */
export function readRawTables(files: TextFile[], options: ParseOptions = {}): RawTable[] {
  const raws: RawTable[] = [];
  const lmEval: { name: string; value: unknown }[] = [];
  for (const file of files) {
    const detected = options.format === undefined || options.format === 'json' || options.format === 'lm-eval' ? detectFormat(file) : undefined;
    const format = options.format ?? detected!.format;
    if (format === 'lm-eval') {
      lmEval.push({ name: file.name, value: detected?.json ?? parseJsonLenient(file.text.replace(/^\ufeff/, '')) });
    } else if (format === 'json') {
      if (detected?.json === undefined) throw new InputError(`${file.name}: not valid JSON`);
      raws.push(parseJsonTable(detected.json, file.name));
    } else {
      raws.push(parseDelimited(file.text, file.name, format === 'tsv' ? '\t' : undefined));
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

/**
 * JSON.parse that also takes the bare NaN / Infinity / -Infinity that Python's json.dump writes (and
 * lm-eval results hold, e.g. an undefined stderr): they become null.
 */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    let out = '';
    let last = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') {
        inString = true;
        continue;
      }
      const m = /^-?(?:NaN|Infinity)/.exec(text.slice(i, i + 9));
      if (m) {
        out += text.slice(last, i) + 'null';
        i += m[0].length - 1;
        last = i + 1;
      }
    }
    if (last === 0) throw first;
    return JSON.parse(out + text.slice(last));
  }
}

