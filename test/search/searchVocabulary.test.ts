/**
 * A search over models whose tokenizers differ (issue 21 §2, issue 22 §1): two fine-tunes of one tiny
 * base, each adding its own special token (its embedding and LM head one row longer). With
 * `--tokenizer-source union` every point is souped from rows aligned to the union vocabulary and scored
 * with the union's tokenizer: each trial scores exactly what `souplab merge` of the point's recipe writes
 * to disk scores, read back as a model folder, and `--export` writes the bytes `souplab merge best.yaml` does.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { pointRecipeYaml } from '../../src/search/outputs';
import type { TrialRecord } from '../../src/search/runSearch';
import { readSafetensors } from '../merge/models';
import { captureIO } from '../eval/helpers';
import { VOCABULARY_TEXTS, writeVocabularyTinyModels } from './vocabularyTinyModels';

let dir: string;
let models: string;
let tasks: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-vocab-'));
  await writeVocabularyTinyModels(dir);
  models = `chat=${join(dir, 'chat')};tool=${join(dir, 'tool')}`;
  writeFileSync(join(dir, 'prose.jsonl'), VOCABULARY_TEXTS);
  tasks = join(dir, 'prose.jsonl');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trialsOf = (out: string): TrialRecord[] =>
  readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrialRecord).filter((t) => t.key !== undefined);

describe('souplab search over models whose vocabularies differ', () => {
  it('without a tokenizer source it says that the vocabularies differ and the rows are souped by position', async () => {
    const io = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'by-position'), '--step', '0.5', '--shapley', 'none'], io)).toBe(0);
    expect(io.err()).toContain("warning: the models' vocabularies differ (tool: +1 token: <|tool|>; lacks 1 of chat's tokens: <|chat|>): their embedding and LM-head rows are souped by position");
  });

  it('--tokenizer-source union: every point scores as the soup souplab merge writes of its recipe', async () => {
    const out = join(dir, 'union');
    const io = captureIO();
    const args = ['--tasks', tasks, '--backend', 'cpu', '--tune-share', '1', '--shapley', 'none'];
    expect(await runCli(['search', '--models', models, ...args, '--out', out, '--plan', 'grid', '--step', '0.5', '--tokenizer-source', 'union', '--export', join(dir, 'best.safetensors')], io)).toBe(0);
    expect(io.err()).toContain('vocabulary: output vocabulary: the union');
    const best = readFileSync(join(out, 'best.yaml'), 'utf8');
    expect(best).toContain('tokenizer_source: union');

    const trials = trialsOf(out);
    // The two models alone and their uniform soup (a baseline and the grid's one inner point).
    expect(trials.map((t) => t.weights.join('/')).sort()).toEqual(['0.5/0.5', '0/1', '1/0']);
    for (const [i, t] of trials.entries()) {
      const recipe = join(out, `point-${i}.yaml`);
      writeFileSync(recipe, pointRecipeYaml({ ...t, heldOutObjective: t.heldOutObjective }, ['chat', 'tool'], ['../chat', '../tool'], 'a point', 'union'));
      const merged = join(dir, `merged-${i}`);
      expect(await runCli(['merge', recipe, '--out', merged, '--backend', 'cpu', '--quiet'], captureIO())).toBe(0);
      // Both added tokens are in the written tokenizer, whatever the point's weights.
      const tokenizer = JSON.parse(readFileSync(join(merged, 'tokenizer.json'), 'utf8')) as { added_tokens: { content: string }[] };
      expect(tokenizer.added_tokens.map((a) => a.content)).toEqual(expect.arrayContaining(['<|chat|>', '<|tool|>']));
      // The merged folder, searched alone: its one trial is the model as written to disk.
      const alone = join(dir, `alone-${i}`);
      expect(await runCli(['search', '--models', `m=${merged}`, ...args, '--out', alone], captureIO())).toBe(0);
      const [disk] = trialsOf(alone);
      expect(disk.tune).toEqual(t.tune);
      // souplab eval of the point's recipe (souped in memory, its vocabulary aligned) and of the folder written: the same numbers.
      const inMemory = captureIO();
      const written = captureIO();
      expect(await runCli(['eval', recipe, '--tasks', tasks, '--backend', 'cpu', '--json'], inMemory)).toBe(0);
      expect(await runCli(['eval', merged, '--tasks', tasks, '--backend', 'cpu', '--json'], written)).toBe(0);
      const tasksOf = (io: ReturnType<typeof captureIO>) => (JSON.parse(io.out()) as { tasks: unknown }).tasks;
      expect(tasksOf(inMemory)).toEqual(tasksOf(written));
    }

    // Trials aligned to one vocabulary are not reused for another.
    const resumed = captureIO();
    expect(await runCli(['search', '--models', models, ...args, '--out', out, '--resume'], resumed)).toBe(2);
    expect(resumed.err()).toContain('--resume found a search of tokenizer source union');

    // The export is the soup souplab merge writes of best.yaml, byte for byte.
    expect(await runCli(['merge', join(out, 'best.yaml'), '--out', join(dir, 'best-merged.safetensors'), '--backend', 'cpu', '--quiet'], captureIO())).toBe(0);
    const exported = readSafetensors(readFileSync(join(dir, 'best.safetensors')));
    const merged = readSafetensors(readFileSync(join(dir, 'best-merged.safetensors')));
    expect([...exported.tensors.keys()].sort()).toEqual([...merged.tensors.keys()].sort());
    for (const [name, t] of merged.tensors) expect(Buffer.compare(Buffer.from(t.data), Buffer.from(exported.tensors.get(name)!.data))).toBe(0);
  }, 300_000);
});
