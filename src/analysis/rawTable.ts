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
  /** Semicolon-separated text, as European spreadsheets export it: "78,25" is 78.25. */
  decimalComma?: boolean;
}

export type RawCell = string | number | boolean | null;

/** Something about the input a user should know; never a reason to silently drop data. */
export interface TableProblem {
  /** 'warning': data was skipped or may be wrong. 'info': a decision the user may want to override. */
  severity: 'warning' | 'info';
  /** What kind of problem, for summarising long lists ("38 repeated model names"); absent for one-offs. */
  code?: ProblemCode;
  message: string;
  row?: number;
  column?: string;
}

export type ProblemCode = 'repeated-model' | 'unnamed-row' | 'not-a-number' | 'ragged-row' | 'set-aside' | 'direction';

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
  const delimChar = delimiter ?? detectDelimiter(text);
  const delim = delimChar.charCodeAt(0);
  const QUOTE = 34;
  const LF = 10;
  const CR = 13;
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const len = text.length;
  // Fields are sliced out of the text rather than built a character at a time: leaderboards can be large.
  while (i <= len) {
    // Start of a field. Leading spaces before a quote are allowed ( "a", "b").
    let j = i;
    while (j < len && text.charCodeAt(j) === 32) j++;
    let field: string;
    let quoted = false;
    if (j < len && text.charCodeAt(j) === QUOTE) {
      quoted = true;
      const quoteLine = line;
      let k = j + 1;
      const parts: string[] = [];
      for (;;) {
        const q = text.indexOf('"', k);
        if (q < 0) throw new InputError(`${source}: line ${quoteLine}: a quoted field is never closed`);
        for (let t = k; t < q; t++) if (text.charCodeAt(t) === LF) line++;
        parts.push(text.slice(k, q));
        if (text.charCodeAt(q + 1) === QUOTE) {
          parts.push('"');
          k = q + 2;
        } else {
          k = q + 1;
          break;
        }
      }
      field = parts.join('');
      // Anything between the closing quote and the delimiter is kept, as spreadsheets do.
      let e = k;
      while (e < len && text.charCodeAt(e) !== delim && text.charCodeAt(e) !== LF && text.charCodeAt(e) !== CR) e++;
      if (e > k) field += text.slice(k, e);
      i = e;
    } else {
      let e = i;
      while (e < len) {
        const c = text.charCodeAt(e);
        if (c === delim || c === LF || c === CR) break;
        e++;
      }
      field = text.slice(i, e);
      i = e;
    }
    cells.push(field);
    const c = i < len ? text.charCodeAt(i) : -1;
    if (c === delim) {
      i++;
      continue;
    }
    // End of a record (newline or end of text). A line holding nothing at all is blank, not a record.
    if (!(cells.length === 1 && cells[0] === '' && !quoted)) records.push({ cells, line: recordLine });
    cells = [];
    if (c === CR && text.charCodeAt(i + 1) === LF) i++;
    i++;
    line++;
    recordLine = line;
  }
  if (records.length === 0) throw new InputError(`${source}: the file is empty`);

  // An unnamed column (a pandas index, a spreadsheet's blank header) still needs a name to be talked about.
  const header = records[0].cells.map((h, j) => h.trim() || `(column ${j + 1})`);
  const problems: TableProblem[] = [];
  const rows: RawCell[][] = [];
  const rowLines: number[] = [];
  for (const { cells: r, line: l } of records.slice(1)) {
    if (r.length > header.length) {
      const extra = r.slice(header.length).filter((x) => x.trim() !== '');
      if (extra.length > 0)
        problems.push({
          severity: 'warning',
          code: 'ragged-row',
          row: l,
          message: `${source}: line ${l} has ${r.length} cells but the header has ${header.length}; the extra cells are ignored`,
        });
    }
    const row: RawCell[] = header.map((_, j) => r[j] ?? '');
    rows.push(row);
    rowLines.push(l);
  }
  return { source, header, rows, rowLines, problems, decimalComma: delimChar === ';' };
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
