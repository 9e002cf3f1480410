import { InputError } from '../errors';

/**
 * A table as read from a file, before anything is decided about its columns: a header and rows of
 * cells. Cells are strings (CSV), or whatever JSON held (number, string, boolean, null).
 */
export interface RawTable {
  /** The file (or files) it came from, used in every message about it. */
  source: string;
  header: string[];
  rows: RawCell[][];
  /** 1-based line (CSV) or index (JSON) of each row, for messages. */
  rowLines: number[];
  /** Things noticed while reading (ragged rows…); they travel into ScoreTable.problems. */
  problems: TableProblem[];
  /** What the reader already knows about columns (lm-eval groups are aggregates); beats name rules. */
  columnHints?: Record<string, { kind: 'category' | 'aggregate'; reason: string }>;
  /** The column naming the models, when the reader knows it. */
  modelColumn?: string;
}

export type RawCell = string | number | boolean | null;

/** Something about the input a user should know; never a reason to silently drop data. */
export interface TableProblem {
  /** 'warning': data was skipped or may be wrong. 'info': a decision the user may want to override. */
  severity: 'warning' | 'info';
  message: string;
  row?: number;
  column?: string;
}

/** Picks the delimiter of a delimited text: tab, semicolon or comma, by the first line's counts. */
export function detectDelimiter(text: string): ',' | '\t' | ';' {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const count = (ch: string): number => {
    let n = 0;
    let quoted = false;
    for (const c of firstLine) {
      if (c === '"') quoted = !quoted;
      else if (!quoted && c === ch) n++;
    }
    return n;
  };
  const tabs = count('\t');
  const commas = count(',');
  const semis = count(';');
  if (tabs > 0 && tabs >= commas) return '\t';
  if (semis > commas) return ';';
  return ',';
}

/**
 * RFC 4180 delimited text: quoted fields with "" escapes and embedded newlines, CRLF or LF, a
 * leading BOM ignored, blank lines skipped. Rows shorter than the header are padded with empty
 * cells; longer ones are reported.
 */
export function parseDelimited(text: string, source: string, delimiter?: ',' | '\t' | ';'): RawTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const delim = delimiter ?? detectDelimiter(text);
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let fieldWasQuoted = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 0;
  const endRecord = (): void => {
    cells.push(field);
    // A line holding nothing at all is a blank line, not a record with one empty cell.
    if (!(cells.length === 1 && cells[0] === '' && !fieldWasQuoted)) records.push({ cells, line: recordLine });
    cells = [];
    field = '';
    fieldWasQuoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.trim() === '') {
      quoted = true;
      fieldWasQuoted = true;
      quoteLine = line;
      field = '';
    } else if (c === delim) {
      cells.push(field);
      field = '';
      fieldWasQuoted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += c;
  }
  if (quoted) throw new InputError(`${source}: line ${quoteLine}: a quoted field is never closed`);
  if (field !== '' || cells.length > 0 || fieldWasQuoted) endRecord();
  if (records.length === 0) throw new InputError(`${source}: the file is empty`);

  const header = records[0].cells.map((h) => h.trim());
  const problems: TableProblem[] = [];
  const rows: RawCell[][] = [];
  const rowLines: number[] = [];
  for (const { cells: r, line: l } of records.slice(1)) {
    if (r.length > header.length) {
      const extra = r.slice(header.length).filter((x) => x.trim() !== '');
      if (extra.length > 0)
        problems.push({
          severity: 'warning',
          row: l,
          message: `${source}: line ${l} has ${r.length} cells but the header has ${header.length}; the extra cells are ignored`,
        });
    }
    const row: RawCell[] = header.map((_, j) => r[j] ?? '');
    rows.push(row);
    rowLines.push(l);
  }
  return { source, header, rows, rowLines, problems };
}

/**
 * JSON score tables: an array of row objects (`[{"model": "a", "math": 0.5}, …]`) or a map from model
 * to its scores (`{"a": {"math": 0.5}, …}`, model column "model").
 */
export function parseJsonTable(value: unknown, source: string): RawTable {
  const header: string[] = [];
  const seen = new Set<string>();
  const addKey = (k: string): void => {
    if (!seen.has(k)) {
      seen.add(k);
      header.push(k);
    }
  };
  const objects: Record<string, unknown>[] = [];
  if (Array.isArray(value)) {
    value.forEach((row, i) => {
      if (!isPlainObject(row)) throw new InputError(`${source}: item ${i} of the array is not an object of column values`);
      objects.push(row);
    });
  } else if (isPlainObject(value)) {
    let modelKey = 'model';
    const entries = Object.entries(value);
    for (const [model, scores] of entries) {
      if (!isPlainObject(scores))
        throw new InputError(`${source}: "${model}" should map to an object of category scores, like {"${model}": {"math": 0.61}}`);
      if (Object.prototype.hasOwnProperty.call(scores, modelKey)) modelKey = '__model__';
    }
    for (const [model, scores] of entries) objects.push({ [modelKey]: model, ...(scores as Record<string, unknown>) });
  } else {
    throw new InputError(`${source}: expected an array of rows or an object {model: {category: score}}`);
  }
  for (const o of objects) Object.keys(o).forEach(addKey);
  const problems: TableProblem[] = [];
  const rows = objects.map((o, i) =>
    header.map((k): RawCell => {
      const v = o[k];
      if (v === undefined || v === null) return null;
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
      problems.push({
        severity: 'warning',
        row: i + 1,
        column: k,
        message: `${source}: row ${i + 1}, "${k}": a nested value is not a score; treated as missing`,
      });
      return null;
    }),
  );
  return { source, header, rows, rowLines: objects.map((_, i) => i + 1), problems };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
