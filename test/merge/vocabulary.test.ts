/**
 * Tokenizers that differ (docs/tokenizers.md): models that add chat and tool tokens to a shared base,
 * merged with mergekit's tokenizer_source / tokenizer: semantics. The expected vocabularies and rows are
 * written out by hand from mergekit's documented rules (README "Tokenizer Configuration": a token a
 * model lacks takes the base's row, else the row of the only model that has it, else the average;
 * `force`, `pad_to_multiple_of` padding rows = the mean of the real rows, as mergekit/tokenizer/embed.py
 * does), not computed by the code under test.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { prepareVocabulary } from '../../src/merge/vocabulary/prepareVocabulary';
import { HfTokenizer } from '../../src/model/tokenizer';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { parseRecipe, recipeToYaml } from '../../src/merge/recipe';
import { cli } from '../support/cliInProcess';
import { decodeFloats, encodeFloats, readSafetensors, referenceSoup, rng, writeModel, type TestTensor } from './models';
import { BASE, BASE_ADDED, CHAT, CHAT_ADDED, config, H, model, TOOL, TOOL_ADDED, tokenizerJson, writeVocabularyModels } from './vocabularyModels';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-vocab-'));
  writeVocabularyModels(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (t: TestTensor, r: number) => Array.from(decodeFloats('F32', t.data.subarray(r * H * 4, (r + 1) * H * 4)));
const mean = (...rows: number[][]) => rows[0].map((_, i) => Math.fround(rows.reduce((s, r) => s + r[i], 0) / rows.length));
const zeros = () => new Array<number>(H).fill(0);
const tensorOf = (rows: number[][], name = 'x'): TestTensor => ({ name, dtype: 'F32', shape: [rows.length, H], data: encodeFloats('F32', rows.flat()) });
/** A parsed value without its recipe line numbers (which move when a recipe is rewritten). */
const withoutLines = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'line' || k === 'sourceLine' ? undefined : x)));
const get = (m: TestTensor[], name: string) => m.find((t) => t.name === name)!;

const RECIPE_HEAD = 'merge_method: linear\nbase_model: base\nmodels:\n  - model: base\n    parameters: {weight: 1}\n  - model: chat\n    parameters: {weight: 2}\n  - model: tool\n    parameters: {weight: 1}\n';
const COEFFS = [1 / 4, 2 / 4, 1 / 4];

async function merge(recipeTail: string, out: string): Promise<{ code: number; stderr: string; tensors: Map<string, TestTensor> }> {
  writeFileSync(join(dir, `${out}.yaml`), RECIPE_HEAD + recipeTail);
  const run = await cli(['merge', join(dir, `${out}.yaml`), '--out', join(dir, out), '--backend', 'cpu', '--threads', '1']);
  const tensors = run.code === 0 ? readSafetensors(readFileSync(join(dir, out, 'model.safetensors'))).tensors : new Map<string, TestTensor>();
  return { code: run.code, stderr: run.stderr, tensors };
}

function expectSoup(out: Map<string, TestTensor>, name: string, perModel: number[][][], coefficients = COEFFS): void {
  const inputs = perModel.map((rows) => tensorOf(rows, name));
  const expected = referenceSoup('linear', coefficients, inputs, 'F32');
  expect(out.get(name)!.shape).toEqual([perModel[0].length, H]);
  expect(Array.from(decodeFloats('F32', out.get(name)!.data))).toEqual(Array.from(decodeFloats('F32', expected)));
}

/**
 * Each model's rows in the union's order, by mergekit's rules: union = the base's 0..7, then the added
 * tokens in first-appearance order: chat's <|im_start|> (8), <|im_end|> (9), then tool's new <tool_call>
 * (10), </tool_call> (11).
 */
function unionRows(name: string): number[][][] {
  const [b, c, t] = [get(BASE, name), get(CHAT, name), get(TOOL, name)];
  const shared = (m: TestTensor) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row(m, r));
  const imStart = mean(row(c, 8), row(t, 10)); // two models have it, the base does not: their average
  return [
    [...shared(b), imStart, row(c, 9), row(t, 8), row(t, 9)],
    [...shared(c), row(c, 8), row(c, 9), row(t, 8), row(t, 9)],
    [...shared(t), row(t, 10), row(c, 9), row(t, 8), row(t, 9)],
  ];
}

describe('union of a base, a chat model and a tool model', () => {
  test('the output vocabulary, rows, tokenizer files and config are mergekit’s', async () => {
    const { code, stderr, tensors } = await merge('tokenizer_source: union\n', 'union');
    expect(code, stderr).toBe(0);
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) expectSoup(tensors, name, unionRows(name));
    const tok = JSON.parse(readFileSync(join(dir, 'union', 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string; special: boolean }[] };
    expect(tok.added_tokens.map((a) => [a.id, a.content, a.special])).toEqual([
      [6, '<s>', true], [7, '</s>', true], [8, '<|im_start|>', true], [9, '<|im_end|>', true], [10, '<tool_call>', true], [11, '</tool_call>', true],
    ]);
    const cfg = JSON.parse(readFileSync(join(dir, 'union', 'config.json'), 'utf8')) as { vocab_size: number };
    expect(cfg.vocab_size).toBe(12);
    const tc = JSON.parse(readFileSync(join(dir, 'union', 'tokenizer_config.json'), 'utf8')) as { eos_token: string; added_tokens_decoder: Record<string, { content: string }> };
    expect(tc.eos_token).toBe('</s>');
    expect(tc.added_tokens_decoder['10'].content).toBe('<tool_call>');
    // The written tokenizer encodes the new tokens at the rows written for them.
    const hf = new HfTokenizer(readFileSync(join(dir, 'union', 'tokenizer.json'), 'utf8'), readFileSync(join(dir, 'union', 'tokenizer_config.json'), 'utf8'), 'union');
    expect(hf.encode('a <tool_call> b <|im_start|>', { addSpecialTokens: false })).toEqual([1, 10, 2, 8]);
    // The pre-flight: one line per model, and where the output's new tokens come from.
    expect(stderr).toContain('chat: +2 tokens: <|im_start|>, <|im_end|>; added at other ids than elsewhere: <|im_start|> (8 here, 10 in tool)\n');
    expect(stderr).toContain('tool: +3 tokens: <tool_call>, </tool_call>, <|im_start|>; added at other ids than elsewhere: <|im_start|> (10 here, 8 in chat)\n');
    expect(stderr).toContain('<|im_start|> (from chat, tool)');
    // The WebGPU backend reads the same virtual tensors (Node's Dawn on SwiftShader here): the same bytes.
    const gpu = await cli(['merge', join(dir, 'union.yaml'), '--out', join(dir, 'union-gpu.safetensors'), '--backend', 'webgpu']);
    expect(gpu.code, gpu.stderr).toBe(0);
    const onGpu = readSafetensors(readFileSync(join(dir, 'union-gpu.safetensors'))).tensors;
    for (const [name, t] of tensors) expect(Buffer.from(onGpu.get(name)!.data).equals(Buffer.from(t.data)), name).toBe(true);
    // souplab inspect of the output says which tokens were added and from where.
    const inspected = await cli(['inspect', join(dir, 'union')]);
    expect(inspected.stdout).toContain('  vocabulary  chat: +2 tokens: <|im_start|>, <|im_end|>; added at other ids than elsewhere: <|im_start|> (8 here, 10 in tool)\n');
    expect(inspected.stdout).toContain('              output vocabulary: the union, 12 tokens; +4 over base: <|im_start|> (from chat, tool), <|im_end|> (from chat), <tool_call> (from tool), </tool_call> (from tool)\n');
    // The recipe stored beside the model keeps the setting.
    expect(readFileSync(join(dir, 'union', 'recipe.yaml'), 'utf8')).toContain('tokenizer_source: union');
  });

  test('base: the base vocabulary, the models’ added rows left out, the base’s files', async () => {
    const { code, stderr, tensors } = await merge('tokenizer_source: base\n', 'basevocab');
    expect(code, stderr).toBe(0);
    const name = 'model.embed_tokens.weight';
    const rows = (m: TestTensor[]) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row(get(m, name), r));
    expectSoup(tensors, name, [rows(BASE), rows(CHAT), rows(TOOL)]);
    expect(readFileSync(join(dir, 'basevocab', 'tokenizer.json'), 'utf8')).toBe(tokenizerJson(BASE_ADDED));
  });

  test('a model as the source: its vocabulary, ids and chat template', async () => {
    const { code, stderr, tensors } = await merge('tokenizer_source: tool\n', 'toolvocab');
    expect(code, stderr).toBe(0);
    const name = 'lm_head.weight';
    const [b, c, t] = [get(BASE, name), get(CHAT, name), get(TOOL, name)];
    const shared = (m: TestTensor) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row(m, r));
    expectSoup(tensors, name, [
      [...shared(b), row(t, 8), row(t, 9), mean(row(c, 8), row(t, 10))],
      [...shared(c), row(t, 8), row(t, 9), row(c, 8)],
      [...shared(t), row(t, 8), row(t, 9), row(t, 10)],
    ]);
    expect(readFileSync(join(dir, 'toolvocab', 'tokenizer.json'), 'utf8')).toBe(tokenizerJson(TOOL_ADDED));
    expect(JSON.parse(readFileSync(join(dir, 'toolvocab', 'config.json'), 'utf8')).vocab_size).toBe(11);
  });

  test('without base_model the first model gives the vocabulary but no preferred rows (mergekit: base_model None)', async () => {
    // Output vocabulary tool's; <|im_start|> is in chat (8) and tool (10), not in base: base gets their
    // average — chat, the first model, is not preferred since the recipe names no base_model.
    const text = 'merge_method: linear\nmodels:\n  - model: chat\n    parameters: {weight: 2}\n  - model: tool\n    parameters: {weight: 1}\n  - model: base\n    parameters: {weight: 1}\ntokenizer_source: tool\n';
    writeFileSync(join(dir, 'nobase.yaml'), text);
    const run = await cli(['merge', join(dir, 'nobase.yaml'), '--out', join(dir, 'nobase.safetensors'), '--backend', 'cpu', '--threads', '1']);
    expect(run.code, run.stderr).toBe(0);
    const tensors = readSafetensors(readFileSync(join(dir, 'nobase.safetensors'))).tensors;
    const name = 'model.embed_tokens.weight';
    const [b, c, t] = [get(BASE, name), get(CHAT, name), get(TOOL, name)];
    const shared = (m: TestTensor) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row(m, r));
    expectSoup(tensors, name, [
      [...shared(c), row(t, 8), row(t, 9), row(c, 8)],
      [...shared(t), row(t, 8), row(t, 9), row(t, 10)],
      [...shared(b), row(t, 8), row(t, 9), mean(row(c, 8), row(t, 10))],
    ], [2 / 4, 1 / 4, 1 / 4]);
  });

  test('a forced row from another model’s token id, on the base vocabulary (mergekit’s test_model_token_id)', async () => {
    const block = 'tokenizer:\n  source: base\n  tokens:\n    c:\n      source:\n        kind: model_token\n        model: chat\n        token_id: 9\n      force: true\n';
    const { code, stderr, tensors } = await merge(block, 'tokenid');
    expect(code, stderr).toBe(0);
    const name = 'model.embed_tokens.weight';
    const [b, c, t] = [get(BASE, name), get(CHAT, name), get(TOOL, name)];
    const rows = (m: TestTensor) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => (r === 3 ? row(c, 9) : row(m, r)));
    expectSoup(tensors, name, [rows(b), rows(c), rows(t)]);
  });

  test('the tokenizer block: force, a zero row, another token’s row, padding to a multiple', async () => {
    const block = [
      'tokenizer:',
      '  source: union',
      '  tokens:',
      '    <|im_start|>:',
      '      source: chat',
      '      force: true',
      '    <think>:',
      '      source:',
      '        kind: model_token',
      '        model: base',
      '        token: c',
      '    <pad>:',
      '      source:',
      '        kind: zero',
      '  pad_to_multiple_of: 8',
      '',
    ].join('\n');
    const { code, stderr, tensors } = await merge(block, 'block');
    expect(code, stderr).toBe(0);
    const name = 'model.embed_tokens.weight';
    const [b, c, t] = [get(BASE, name), get(CHAT, name), get(TOOL, name)];
    const shared = (m: TestTensor) => [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row(m, r));
    // union (12) + <think> (12) + <pad> (13) = 14 tokens, padded to 16 with each model's mean row.
    const real = (m: TestTensor, own: number[][]) => [...shared(m), row(c, 8), ...own, row(b, 3), zeros()];
    const padded = (rows: number[][]) => [...rows, mean(...rows), mean(...rows)];
    expectSoup(tensors, name, [
      padded(real(b, [row(c, 9), row(t, 8), row(t, 9)])),
      padded(real(c, [row(c, 9), row(t, 8), row(t, 9)])),
      padded(real(t, [row(c, 9), row(t, 8), row(t, 9)])),
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'block', 'config.json'), 'utf8')).vocab_size).toBe(16);
    const stored = readFileSync(join(dir, 'block', 'recipe.yaml'), 'utf8');
    expect(withoutLines(parseRecipe(stored).recipe.tokenizer)).toEqual(withoutLines(parseRecipe(RECIPE_HEAD + block).recipe.tokenizer));
  });
});

test('tokens past config.json’s vocab_size are unused and left out, as mergekit strips them (its model_padded case)', async () => {
  const unused = [0, 1, 2, 3].map((i) => ({ id: 8 + i, content: `<UNUSED_${i}>` }));
  writeModel(join(dir, 'padded'), model(8, 400), { layout: 'folder', extraFiles: { 'config.json': config(8), 'tokenizer.json': tokenizerJson([...BASE_ADDED, ...unused]) } });
  writeFileSync(join(dir, 'padded.yaml'), 'merge_method: linear\nbase_model: padded\nmodels:\n  - model: padded\n  - model: chat\ntokenizer_source: union\n');
  const run = await cli(['merge', join(dir, 'padded.yaml'), '--out', join(dir, 'padded-out'), '--backend', 'cpu', '--threads', '1']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toContain("padded: 4 tokens of tokenizer.json at ids past config.json's vocab_size 8 are unused and left out, as mergekit does: <UNUSED_0>, <UNUSED_1>, <UNUSED_2>, <UNUSED_3>");
  const tok = JSON.parse(readFileSync(join(dir, 'padded-out', 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[]; model: { vocab: Record<string, number> } };
  expect(tok.added_tokens.map((a) => `${a.id} ${a.content}`)).toEqual(['6 <s>', '7 </s>', '8 <|im_start|>', '9 <|im_end|>']);
  expect(Object.keys(tok.model.vocab).some((t) => t.startsWith('<UNUSED'))).toBe(false);
  const out = readSafetensors(readFileSync(join(dir, 'padded-out', 'model.safetensors'))).tensors;
  expect(out.get('model.embed_tokens.weight')!.shape).toEqual([10, H]);
});

describe('bad input: one sentence, nothing written', () => {
  const bad = async (files: Record<string, string>, recipeTail: string, out: string) => {
    const m = join(dir, `${out}-model`);
    writeModel(m, model(8, 900), { layout: 'folder', extraFiles: { 'config.json': config(8), ...files } });
    writeFileSync(join(dir, `${out}.yaml`), `merge_method: linear\nbase_model: base\nmodels:\n  - model: base\n  - model: ${out}-model\n${recipeTail}`);
    const run = await cli(['merge', join(dir, `${out}.yaml`), '--out', join(dir, out), '--backend', 'cpu']);
    expect(run.code).not.toBe(0);
    expect(existsSync(join(dir, out))).toBe(false);
    return run.stderr.trim();
  };

  test('a vocabulary larger than the embedding', async () => {
    // config.json says 10 tokens, as the tokenizer has, but the embedding has 8 rows.
    const msg = await bad({ 'tokenizer.json': tokenizerJson(CHAT_ADDED), 'config.json': config(10) }, 'tokenizer_source: union\n', 'big');
    expect(msg).toBe('souplab merge: big-model/tokenizer.json: token "<|im_start|>" has id 8, but model.embed_tokens.weight has only 8 rows (config.json says vocab_size 10): the vocabulary is larger than the embedding');
  });

  test('a token id collision', async () => {
    const collide = tokenizerJson([...BASE_ADDED, { id: 5, content: '<tool_call>' }]);
    const msg = await bad({ 'tokenizer.json': collide }, 'tokenizer_source: union\n', 'collide');
    expect(msg).toBe('souplab merge: collide-model/tokenizer.json: token id collision: "e" and "<tool_call>" both have id 5');
  });

  test('a tokenizer block naming a model the recipe does not merge', async () => {
    const msg = await bad({ 'tokenizer.json': tokenizerJson(BASE_ADDED) }, 'tokenizer:\n  source: union\n  tokens:\n    <x>:\n      source: elsewhere\n', 'unknown');
    expect(msg).toMatch(/^souplab merge: .*unknown\.yaml line 9: token <x>: source model 'elsewhere' is not one of the recipe's models \(base, unknown-model\)$/);
  });
});

describe('the recipe, both ways', () => {
  test('tokenizer_source and the tokenizer block are written back as mergekit reads them', () => {
    const text = `${RECIPE_HEAD}tokenizer:\n  source: chat\n  tokens:\n    <x>:\n      source:\n        kind: model_token\n        model: tool\n        token_id: 9\n      force: false\n  pad_to_multiple_of: 64\n`;
    const { recipe } = parseRecipe(text);
    expect(recipe.tokenizer).toMatchObject({ source: 'chat', padToMultipleOf: 64, tokens: [{ token: '<x>', source: { kind: 'model_token', model: 'tool', tokenId: 9 }, force: false }] });
    const yaml = recipeToYaml(recipe);
    expect(yaml).toContain('tokenizer:\n  source: chat\n  tokens:\n    <x>:\n      source:\n        kind: model_token\n        model: tool\n        token_id: 9\n      force: false\n  pad_to_multiple_of: 64\n');
    expect(withoutLines(parseRecipe(yaml).recipe.tokenizer)).toEqual(withoutLines(recipe.tokenizer));
    expect(recipeToYaml(parseRecipe(`${RECIPE_HEAD}tokenizer_source: union\n`).recipe)).toContain('tokenizer_source: union');
  });

  test('both forms at once, and an unknown source, are refused with their line', () => {
    expect(() => parseRecipe(`${RECIPE_HEAD}tokenizer_source: union\ntokenizer:\n  source: base\n`, 'r.yaml')).toThrow('r.yaml line 11: give either tokenizer_source or a tokenizer: block, not both (mergekit refuses both)');
    expect(() => parseRecipe(`${RECIPE_HEAD}tokenizer_source: other\n`, 'r.yaml')).toThrow("r.yaml line 10: tokenizer source 'other' is not one of the recipe's models (base, union or one of: base, chat, tool)");
    expect(() => parseRecipe(`${RECIPE_HEAD}tokenizer:\n  pad_to_multiple_of: 0\n`, 'r.yaml')).toThrow('r.yaml line 11: pad_to_multiple_of must be a whole number of 1 or more, got 0');
  });
});

describe('every method merges the permuted rows as it merges any tensor', () => {
  // The same method on models whose rows were permuted beforehand (written to disk, no tokenizer
  // settings) gives the same bytes: the virtual tensors are read like a file's.
  test.each([
    ['task_arithmetic', ''],
    ['ties', 'parameters:\n  density: 0.5\n'],
    ['karcher', ''],
  ])('%s', async (method, params) => {
    const permuted = ['base', 'chat', 'tool'].map((label, i) => {
      const src = [BASE, CHAT, TOOL][i];
      const tensors = src.map((t) => (t.name === 'model.embed_tokens.weight' || t.name === 'lm_head.weight' ? tensorOf(unionRows(t.name)[i], t.name) : t));
      return writeModel(join(dir, `${method}-pre-${label}`), tensors, { layout: 'folder' });
    });
    const models = (names: string[]) => names.map((n) => `  - model: ${n}\n    parameters: {weight: 1}\n`).join('');
    const recipe = (names: string[], tail: string) => `merge_method: ${method}\nbase_model: ${names[0]}\nmodels:\n${models(names)}${params}${tail}`;
    writeFileSync(join(dir, `${method}-a.yaml`), recipe(['base', 'chat', 'tool'], 'tokenizer_source: union\n'));
    writeFileSync(join(dir, `${method}-b.yaml`), recipe(permuted.map((p) => p.split('/').pop()!), ''));
    for (const k of ['a', 'b']) {
      const run = await cli(['merge', join(dir, `${method}-${k}.yaml`), '--out', join(dir, `${method}-${k}.safetensors`), '--backend', 'cpu', '--threads', '1']);
      expect(run.code, run.stderr).toBe(0);
    }
    const a = readSafetensors(readFileSync(join(dir, `${method}-a.safetensors`))).tensors;
    const b = readSafetensors(readFileSync(join(dir, `${method}-b.safetensors`))).tensors;
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [name, t] of b) expect(Buffer.from(a.get(name)!.data).equals(Buffer.from(t.data)), name).toBe(true);
    expect(a.get('lm_head.weight')!.shape).toEqual([12, H]);
  });
});

describe('the virtual tensors read in pieces as a whole', () => {
  test('any byte range of a permuted, padded tensor equals that range of the whole', async () => {
    const opened = await Promise.all(['base', 'chat', 'tool'].map((n) => openCheckpointPath(join(dir, n))));
    try {
      const refs = ['base', 'chat', 'tool'].map((n) => ({ path: n, label: n }));
      const result = await prepareVocabulary(
        { tokenizer: { source: 'union', tokens: [{ token: '<|im_end|>', source: { kind: 'model', model: 'chat' }, force: true }], padToMultipleOf: 5 } },
        refs,
        new Map(refs.map((r, i) => [r.path, opened[i]])),
      );
      const r = rng(7);
      for (const name of ['base', 'tool']) {
        const t = result!.checkpoints.get(name)!.tensors.get('lm_head.weight')!;
        expect(t.info.shape).toEqual([15, H]);
        const whole = await t.source.read(0, t.info.byteLength);
        for (let k = 0; k < 200; k++) {
          const a = Math.floor(r() * whole.length);
          const n = Math.floor(r() * (whole.length - a + 1));
          expect(Buffer.from(await t.source.read(a, n)).equals(Buffer.from(whole.subarray(a, a + n)))).toBe(true);
        }
      }
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });
});
