/**
 * The studio's Taste and Search over models whose tokenizers differ, with union chosen: they go through
 * the engine's entries as `souplab eval` and `souplab search` do, so the soup tastes as `souplab eval`
 * scores the folder `souplab merge` writes, and the search's trials equal the CLI's.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import type { ModelConfig, WeightSource } from '../../src/model/types';
import { loadEvaluator } from '../../src/node/modelBackend';
import type { TrialRecord, TrialStore } from '../../src/search/runSearch';
import type { IngredientInput } from '../../src/ui/ingredients/types';
import { runSearchJob } from '../../src/ui/search/searchJob';
import { runTasteJob } from '../../src/ui/taste/tasteJob';
import { captureIO } from '../eval/helpers';
import { VOCABULARY_TEXTS, writeVocabularyTinyModels } from '../search/vocabularyTinyModels';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-vocab-jobs-'));
  await writeVocabularyTinyModels(dir);
  writeFileSync(join(dir, 'prose.jsonl'), VOCABULARY_TEXTS);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model folder as the studio holds an added folder: its files as Files. */
const folderInput = (name: string): Pick<IngredientInput, 'name' | 'kind' | 'files'> => ({
  name,
  kind: 'folder',
  files: readdirSync(join(dir, name)).map((f) => [f, new File([readFileSync(join(dir, name, f))], f)]),
});
const TASKS = [{ file: 'prose.jsonl', text: VOCABULARY_TEXTS }];
// The CLI's CPU evaluator, so that the numbers compare exactly.
const createModel = async (config: ModelConfig, weights: WeightSource) => {
  const lm = await loadEvaluator('cpu', config, weights);
  return { ...lm, dispose: () => {
    lm.model.dispose();
    void lm.dispose();
  } };
};
const recipe = (wChat: number, wTool: number) =>
  `merge_method: linear\ntokenizer_source: union\nmodels:\n  - model: ./chat\n    parameters:\n      weight: ${wChat}\n  - model: ./tool\n    parameters:\n      weight: ${wTool}\n`;

/** `souplab eval --json` of the folder `souplab merge` writes of the recipe: the perplexity task's numbers. */
async function evalOfMerged(name: string, yaml: string): Promise<{ perplexity: number; tokens: number; nll: number }> {
  writeFileSync(join(dir, `${name}.yaml`), yaml);
  expect(await runCli(['merge', join(dir, `${name}.yaml`), '--out', join(dir, name), '--backend', 'cpu', '--quiet'], captureIO())).toBe(0);
  const io = captureIO();
  expect(await runCli(['eval', join(dir, name), '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--json'], io)).toBe(0);
  const { perplexity, tokens, nll } = (JSON.parse(io.out()) as { tasks: { perplexity: number; tokens: number; nll: number }[] }).tasks[0];
  return { perplexity, tokens, nll };
}

describe('differing vocabularies, union chosen', () => {
  it('Taste: the soup and each ingredient (its rows aligned) score as the merged folders do', async () => {
    const soupBackend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const out = await runTasteJob({ ingredients: [folderInput('chat'), folderInput('tool')], recipeYaml: recipe(1, 1), tasks: TASKS, soupName: 'soup' }, { soupBackend, createModel }).finally(() =>
      soupBackend.dispose(),
    );
    const expected = [await evalOfMerged('soup', recipe(1, 1)), await evalOfMerged('chat-aligned', recipe(1, 0)), await evalOfMerged('tool-aligned', recipe(0, 1))];
    expect(out.map((r) => r.model)).toEqual(['soup', 'chat', 'tool']);
    out.forEach((r, i) => {
      const t = r.results[0];
      if (t.kind !== 'perplexity') throw new Error('a perplexity task');
      expect({ perplexity: t.perplexity, tokens: t.tokens, nll: t.nll }).toEqual(expected[i]);
    });
  }, 120_000);

  it('Search: the trials equal souplab search --tokenizer-source union', async () => {
    const records: TrialRecord[] = [];
    const store: TrialStore = { load: async () => structuredClone(records), append: async (r) => void records.push(structuredClone(r)) };
    const soupBackend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const settings = { models: ['chat', 'tool'], experts: ['chat', 'tool'], plan: { kind: 'grid' as const, step: 0.5 }, tasks: ['prose.jsonl'], metric: 'acc_norm' as const, splitSeed: 0, tuneShare: 1, backend: 'cpu' as const, tokenizerSource: 'union' as const };
    await runSearchJob({ settings, ingredients: [folderInput('chat'), folderInput('tool')], tasks: TASKS }, { soupBackend, createModel, store, memoryBudget: 1e9 }).finally(() => soupBackend.dispose());

    const out = join(dir, 'cli-search');
    const args = ['search', '--models', `chat=${join(dir, 'chat')};tool=${join(dir, 'tool')}`, '--tasks', join(dir, 'prose.jsonl'), '--backend', 'cpu', '--tune-share', '1', '--step', '0.5'];
    expect(await runCli([...args, '--shapley', 'all', '--tokenizer-source', 'union', '--out', out], captureIO())).toBe(0);
    const cli = readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrialRecord);
    const scores = (ts: TrialRecord[]) => Object.fromEntries(ts.map((t) => [t.key, t.tune]));
    expect(records.length).toBe(3);
    expect(scores(records)).toEqual(scores(cli));
  }, 120_000);
});
