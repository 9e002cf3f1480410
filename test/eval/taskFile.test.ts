import { describe, expect, it } from 'vitest';
import { hellaswagPreprocess, parseTaskFile, taskNameOf } from '../../src/eval/taskFile';

const jsonl = (...items: unknown[]) => items.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))).join('\n');

describe('task files', () => {
  it('reads SoupLab / lm-eval {"query","choices","gold"} items, naming the category after the file', () => {
    const t = parseTaskFile('tasks/capitals.jsonl', jsonl({ query: 'The capital of France is', choices: ['Paris', 'Rome'], gold: 0 }, '', { query: 'Q:', choices: ['a', 'b', 'c'], gold: 2, target_delimiter: '' }));
    expect(t.name).toBe('capitals');
    expect(t.kind).toBe('multiple_choice');
    expect(t.problems).toEqual([]);
    if (t.kind !== 'multiple_choice') throw new Error();
    expect(t.items).toEqual([
      { line: 1, query: 'The capital of France is', choices: ['Paris', 'Rome'], gold: 0, delimiter: ' ' },
      { line: 3, query: 'Q:', choices: ['a', 'b', 'c'], gold: 2, delimiter: '' },
    ]);
  });

  it("reads ARC, HellaSwag, PIQA and MMLU rows with lm-eval's templates", () => {
    const t = parseTaskFile(
      'mix.jsonl',
      jsonl(
        { question: 'Which is a gas?', choices: { text: ['ice', 'steam'], label: ['A', 'B'] }, answerKey: 'B' },
        { activity_label: 'Baking', ctx_a: 'She mixes flour.', ctx_b: 'then she', endings: ['bakes [title] it', 'sings'], label: '0' },
        { goal: 'Open a jar', sol1: 'twist the lid', sol2: 'freeze it', label: 1 },
        { question: ' 2+2? ', choices: ['3', '4'], answer: 1 },
      ),
    );
    if (t.kind !== 'multiple_choice') throw new Error();
    expect(t.problems).toEqual([]);
    expect(t.items.map(({ query, choices, gold }) => ({ query, choices, gold }))).toEqual([
      { query: 'Question: Which is a gas?\nAnswer:', choices: ['ice', 'steam'], gold: 1 },
      { query: 'Baking: She mixes flour. Then she', choices: ['bakes. it', 'sings'], gold: 0 },
      { query: 'Question: Open a jar\nAnswer:', choices: ['twist the lid', 'freeze it'], gold: 1 },
      { query: '2+2?\nA. 3\nB. 4\nAnswer:', choices: ['A', 'B'], gold: 1 },
    ]);
  });

  it('hellaswag preprocessing as lm-eval: [title] → ". ", tags dropped, double spaces collapsed', () => {
    expect(hellaswagPreprocess(' How to cook [title] Boil water [step] now ')).toBe('How to cook. Boil water now');
    // Python's str.replace is not repeated: three spaces become two, as in lm-eval.
    expect(hellaswagPreprocess('a [x]  b')).toBe('a  b');
  });

  it('reports every bad item on one line naming the file and line, keeping the sound ones', () => {
    const t = parseTaskFile(
      'bad.jsonl',
      jsonl(
        { query: 'ok', choices: ['a', 'b'], gold: 1 },
        { query: 'no choices' },
        { query: 'empty', choices: [], gold: 0 },
        { query: 'out of range', choices: ['a', 'b'], gold: 2 },
        { query: 'negative', choices: ['a', 'b'], gold: -1 },
        { query: 'not an index', choices: ['a', 'b'], gold: 'a' },
        '{not json',
        '[1, 2]',
        { choices: ['a', 'b'], gold: 0 },
      ),
    );
    if (t.kind !== 'multiple_choice') throw new Error();
    expect(t.items.map((i) => i.line)).toEqual([1]);
    expect(t.problems).toEqual([
      expect.stringMatching(/^bad\.jsonl line 7: not valid JSON/),
      'bad.jsonl line 8: an item must be a JSON object, got an array',
      'bad.jsonl line 2: no choices',
      'bad.jsonl line 3: no choices',
      'bad.jsonl line 4: "gold" 2 is out of range for 2 choices (0–1)',
      'bad.jsonl line 5: "gold" -1 is out of range for 2 choices (0–1)',
      'bad.jsonl line 6: "gold" must be a whole-number index, got "a"',
      'bad.jsonl line 9: no "query" (the text the choices continue)',
    ]);
    for (const p of t.problems) expect(p).not.toContain('\n');
  });

  it('an empty file is a problem, not an empty category', () => {
    expect(parseTaskFile('e.jsonl', '\n\n').problems).toEqual(['e.jsonl: empty file: no items']);
    expect(parseTaskFile('e.txt', '  \n').problems).toEqual(['e.txt: empty file: no text to score']);
  });

  it('perplexity: a .txt file is one document; JSONL with "text" one document per line', () => {
    const txt = parseTaskFile('wiki.txt', 'Some text.\nMore.');
    expect(txt).toMatchObject({ name: 'wiki', kind: 'perplexity', documents: [{ line: 1, text: 'Some text.\nMore.' }] });
    const j = parseTaskFile('docs.jsonl', jsonl({ text: 'a b' }, { text: 'c' }, { title: 'no text' }));
    expect(j.kind).toBe('perplexity');
    if (j.kind !== 'perplexity') throw new Error();
    expect(j.documents.map((d) => d.line)).toEqual([1, 2]);
    expect(j.problems).toEqual(['docs.jsonl line 3: no "text" field (a perplexity file has one text per line)']);
  });

  it('category names drop the extension and folders', () => {
    expect(taskNameOf('/a/b/arc-easy.jsonl')).toBe('arc-easy');
    expect(taskNameOf('C:\\x\\wiki.txt')).toBe('wiki');
  });
});

describe('the demo task set', () => {
  it('parses without a problem: three multiple-choice categories and a text', async () => {
    const { readTaskFiles } = await import('../../src/node/taskFiles');
    const { files } = readTaskFiles([new URL('../../public/demo/tasks', import.meta.url).pathname]);
    expect(files.map((f) => [f.name, f.kind, f.problems])).toEqual([
      ['arithmetic', 'multiple_choice', []],
      ['facts', 'multiple_choice', []],
      ['prose', 'perplexity', []],
      ['tool-calls', 'multiple_choice', []],
    ]);
  });
});
