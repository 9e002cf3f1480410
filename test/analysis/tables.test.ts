import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors';
import { detectDelimiter, parseDelimited, parseJsonTable } from '../../src/analysis/rawTable';
import { parseCell } from '../../src/analysis/cells';
import { parseScoreTable } from '../../src/analysis';

describe('delimited text', () => {
  it('handles quotes, escaped quotes, embedded delimiters and newlines, CRLF, a BOM and blank lines', () => {
    const text = '\ufeffModel,"Math, hard",Note\r\n"a ""quoted"" model",1.5,"two\nlines"\r\n\r\nb,2,\r\n';
    const t = parseDelimited(text, 't.csv');
    expect(t.header).toEqual(['Model', 'Math, hard', 'Note']);
    expect(t.rows).toEqual([
      ['a "quoted" model', '1.5', 'two\nlines'],
      ['b', '2', ''],
    ]);
    // Line numbers count the embedded newline.
    expect(t.rowLines).toEqual([2, 5]);
  });

  it('reads back any table written with RFC 4180 quoting', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r\n', '1', '%', 'é') , maxLength: 8 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain((w) => fc.array(fc.array(field, { minLength: w, maxLength: w }), { minLength: 2, maxLength: 6 })), fc.boolean(), (table, crlf) => {
        // Headers and cells are trimmed on reading; rows of only blanks are blank lines: keep the test to what is meaningful.
        const rows = table.map((r, i) => r.map((c) => (i === 0 ? `h${c.trim()}` : `x${c}`)));
        const quote = (c: string) => (/[",\r\n]/.test(c) || c !== c.trim() ? `"${c.replace(/"/g, '""')}"` : c);
        const text = rows.map((r) => r.map(quote).join(',')).join(crlf ? '\r\n' : '\n');
        const t = parseDelimited(text, 'p.csv', ',');
        expect(t.header).toEqual(rows[0].map((h) => h.trim()));
        expect(t.rows).toEqual(rows.slice(1));
      }),
      { numRuns: 300 },
    );
  });

  it('detects tabs and semicolons', () => {
    expect(detectDelimiter('model\tmath\tcode\na\t1\t2')).toBe('\t');
    expect(detectDelimiter('model;math;code\na;1,5;2')).toBe(';');
    expect(detectDelimiter('model,"x;y",code')).toBe(',');
    expect(parseDelimited('m\tx\na\t3\n', 't.tsv').rows).toEqual([['a', '3']]);
  });

  it('pads short rows, reports long ones, refuses an unclosed quote with its line', () => {
    const t = parseDelimited('m,x,y\na,1\nb,2,3,4\n', 't.csv');
    expect(t.rows).toEqual([
      ['a', '1', ''],
      ['b', '2', '3'],
    ]);
    expect(t.problems.map((p) => p.message)).toEqual(['t.csv: line 3 has 4 cells but the header has 3; the extra cells are ignored']);
    expect(() => parseDelimited('m,x\n"a,1\nb,2\n', 'bad.csv')).toThrow(new InputError('bad.csv: line 2: a quoted field is never closed'));
    expect(() => parseDelimited('', 'empty.csv')).toThrow('empty.csv: the file is empty');
  });
});

describe('cells', () => {
  it('reads numbers, percent strings and missing markers', () => {
    expect(parseCell('78.25%')).toEqual({ kind: 'number', value: 78.25 });
    expect(parseCell(' -1.5e-3 ')).toEqual({ kind: 'number', value: -0.0015 });
    expect(parseCell(0.5)).toEqual({ kind: 'number', value: 0.5 });
    for (const m of ['N/A', 'n/a', '', '-', 'NaN', null, 'None']) expect(parseCell(m)).toEqual({ kind: 'missing' });
    expect(parseCell('error')).toEqual({ kind: 'text', text: 'error' });
    expect(parseCell('1.2.3')).toEqual({ kind: 'text', text: '1.2.3' });
  });
});

describe('score tables', () => {
  it('reports rows without a model, duplicate models and non-numeric cells instead of dropping them silently', () => {
    const csv = 'name,math,code,org\na,1,2,x\n,3,4,y\na,5,6,z\nb,oops,8,w\nc,N/A,9,v\n';
    const t = parseScoreTable({ name: 's.csv', text: csv });
    expect(t.modelColumn).toBe('name');
    expect(t.models).toEqual(['a', 'b', 'c']);
    expect(t.categories).toEqual(['math', 'code']);
    expect(t.textColumns).toEqual(['org']);
    const warnings = t.problems.filter((p) => p.severity === 'warning').map((p) => p.message);
    expect(warnings).toEqual([
      's.csv: row 3 has no model name in "name"; skipped',
      's.csv: model "a" appears again at row 4; kept the first (row 2), ignored this one',
      's.csv: model "b", column "math": "oops" is not a number; treated as missing',
    ]);
    expect(t.columns[0].values).toEqual([1, null, null]);
  });

  it('detects the model column when it has no usual name, and accepts an override', () => {
    const t = parseScoreTable({ name: 's.csv', text: 'rank,who,math,code\n1,a,1,2\n2,b,3,4\n' });
    expect(t.modelColumn).toBe('who');
    expect(t.categories).toEqual(['math', 'code']);
    const o = parseScoreTable({ name: 's.csv', text: 'x,y,z\np,1,2\nq,3,4\n' }, { modelColumn: 'X' });
    expect(o.modelColumn).toBe('x');
    expect(() => parseScoreTable({ name: 's.csv', text: 'x,y\np,1\n' }, { modelColumn: 'model' })).toThrow(/s\.csv: no column "model"/);
  });

  it('takes the user\'s categories in their order, aggregates included, and names unknown ones', () => {
    const csv = 'model,Average,math,code,org\na,1.5,1,2,x\nb,3.5,3,4,y\n';
    const t = parseScoreTable({ name: 's.csv', text: csv });
    expect(t.aggregates).toEqual(['Average']);
    expect(t.categories).toEqual(['math', 'code']);
    const o = parseScoreTable({ name: 's.csv', text: csv }, { categories: ['code', 'average'] });
    expect(o.categories).toEqual(['code', 'Average']);
    expect(() => parseScoreTable({ name: 's.csv', text: csv }, { categories: ['maths'] })).toThrow(/no numeric column "maths" \(did you mean "math"\?\)/);
    expect(() => parseScoreTable({ name: 's.csv', text: csv }, { categories: ['org'] })).toThrow('s.csv: column "org" holds text, not scores');
  });

  it('keeps a pandas index column out of the categories, and explains decimal commas', () => {
    const pandas = parseScoreTable({ name: 'p.csv', text: ',model,math,code\n0,a,1,2\n1,b,3,4\n2,c,5,1\n' });
    expect(pandas.categories).toEqual(['math', 'code']);
    expect(pandas.columns[0]).toMatchObject({ name: '(column 1)', kind: 'metadata' });
    // Semicolon-separated (a European spreadsheet's export): decimal commas are numbers.
    const euro = parseScoreTable({ name: 'e.csv', text: 'model;math;code\na;1,5;2\nb;3,25%;4\n' });
    expect(euro.categories).toEqual(['math', 'code']);
    expect(euro.columns[0].values).toEqual([1.5, 3.25]);
    // In comma-separated text they can only be quoted text: said, not guessed.
    const quoted = parseScoreTable({ name: 'e.csv', text: 'model,math,code\na,"1,5",2\nb,"3,25",4\n' });
    expect(quoted.categories).toEqual(['code']);
    expect(quoted.problems.find((p) => p.column === 'math')).toMatchObject({
      severity: 'warning',
      message: 'e.csv: column "math" has numbers with decimal commas ("1,5"); they are not read as scores — export with decimal points',
    });
  });

  it('the "… Acc" suffix marks aggregates only among columns that lack it', () => {
    const some = parseScoreTable({ name: 's.csv', text: 'model,Live Acc,Live Simple,Live Multiple\na,1,2,3\nb,2,3,1\n' });
    expect(some.aggregates).toEqual(['Live Acc']);
    const all = parseScoreTable({ name: 's.csv', text: 'model,arc acc,hellaswag acc,mmlu acc\na,1,2,3\nb,2,3,1\n' });
    expect(all.aggregates).toEqual([]);
    expect(all.categories).toEqual(['arc acc', 'hellaswag acc', 'mmlu acc']);
  });

  it('reads JSON rows and {model: {category: score}} maps', () => {
    const rows = parseScoreTable({ name: 'r.json', text: JSON.stringify([{ model: 'a', math: 0.5, code: '60%' }, { model: 'b', math: null, code: 0.7 }]) });
    expect(rows.models).toEqual(['a', 'b']);
    expect(rows.columns.map((c) => c.values)).toEqual([
      [0.5, null],
      [60, 0.7],
    ]);
    const map = parseScoreTable({ name: 'm.json', text: JSON.stringify({ a: { math: 1, code: 2 }, b: { math: 3 } }) });
    expect(map.modelColumn).toBe('model');
    expect(map.models).toEqual(['a', 'b']);
    expect(map.columns.find((c) => c.name === 'code')!.values).toEqual([2, null]);
    expect(() => parseJsonTable({ a: 3 }, 'x.json')).toThrow(/"a" should map to an object of category scores/);
    expect(() => parseScoreTable({ name: 'bad.json', text: '{"a": ' })).toThrow(/bad\.json: not valid JSON/);
  });
});

describe('lm-evaluation-harness results', () => {
  const results = (model: string, tasks: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
    name: `${model}/results_2025-01-01.json`,
    text: JSON.stringify({ results: tasks, config: { model: 'hf', model_args: `pretrained=${model},dtype=bfloat16` }, ...extra }),
  });
  const groupInfo = { group_subtasks: { mmlu: ['mmlu_stem', 'mmlu_humanities'], mmlu_stem: [], mmlu_humanities: [] } };

  it('one row per model, acc_norm before acc, groups as aggregates and subtasks as categories', () => {
    const a = results(
      'org/a',
      {
        mmlu: { 'acc,none': 0.6, 'acc_stderr,none': 0.01, alias: 'mmlu' },
        mmlu_stem: { 'acc,none': 0.5, alias: ' - stem' },
        mmlu_humanities: { 'acc,none': 0.7, alias: ' - humanities' },
        hellaswag: { 'acc,none': 0.55, 'acc_norm,none': 0.75, alias: 'hellaswag' },
        gsm8k: { 'exact_match,strict-match': 0.3, 'exact_match,flexible-extract': 0.35 },
      },
      groupInfo,
    );
    const b = results('org/b', { mmlu: { 'acc,none': 0.62 }, mmlu_stem: { 'acc,none': 0.52 }, mmlu_humanities: { 'acc,none': 0.72 }, hellaswag: { 'acc,none': 0.5, 'acc_norm,none': 0.7 } }, groupInfo);
    // A second run of model a with another task merges into its row.
    const a2 = results('org/a', { arc_easy: { 'acc,none': 0.8, 'acc_norm,none': 0.78 } });
    const t = parseScoreTable([a, b, a2]);
    expect(t.models).toEqual(['org/a', 'org/b']);
    expect(t.aggregates).toEqual(['mmlu']);
    expect(t.categories).toEqual(['mmlu_stem', 'mmlu_humanities', 'hellaswag', 'gsm8k', 'arc_easy']);
    const v = (c: string) => t.columns.find((x) => x.name === c)!.values;
    expect(v('hellaswag')).toEqual([0.75, 0.7]);
    expect(v('gsm8k')).toEqual([0.3, null]);
    expect(v('arc_easy')).toEqual([0.78, null]);
    // The rule can be changed: acc first, and a filter chosen for gsm8k.
    const t2 = parseScoreTable([a, b], { metricRule: ['acc', 'exact_match,flexible-extract'] });
    expect(t2.columns.find((x) => x.name === 'hellaswag')!.values).toEqual([0.55, 0.5]);
    expect(t2.columns.find((x) => x.name === 'gsm8k')!.values).toEqual([0.35, null]);
  });

  it('takes the bare NaN Python writes, model_args as an object, and group scores found only under "groups"', () => {
    const text = `{"results": {"arc": {"acc,none": 0.5, "acc_stderr,none": NaN, "alias": "NaN in a string stays"}},
      "groups": {"reasoning": {"acc,none": 0.55, "acc_stderr,none": -Infinity}},
      "group_subtasks": {"reasoning": ["arc", "hella"]},
      "config": {"model": "local-completions", "model_args": {"model": "org/m", "num_concurrent": 16}}}`;
    const t = parseScoreTable({ name: 'results_x.json', text });
    expect(t.models).toEqual(['org/m']);
    expect(t.categories).toEqual(['arc']);
    expect(t.aggregates).toEqual(['reasoning']);
    expect(t.columns.map((c) => c.values)).toEqual([[0.5], [0.55]]);
  });

  it('reports conflicting reruns and tasks scored by different metrics', () => {
    const a = results('m', { arc: { 'acc_norm,none': 0.5 } });
    const again = results('m', { arc: { 'acc_norm,none': 0.6 } });
    const b = results('n', { arc: { 'acc,none': 0.4 } });
    const t = parseScoreTable([a, again, b]);
    const msgs = t.problems.map((p) => p.message).join('\n');
    expect(msgs).toMatch(/model "m", task "arc": 0\.6 differs from 0\.5 .*kept the first/);
    expect(msgs).toMatch(/task "arc" is scored by different metrics across models \(acc_norm,none, acc,none\)/);
    expect(t.columns[0].values).toEqual([0.5, 0.4]);
  });
});
