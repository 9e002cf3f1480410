/**
 * A search over models whose tokenizers differ (issue 21 §2, issue 22 §1): two fine-tunes of one tiny
 * base, each adding its own special token (its embedding and LM head one row longer). With
 * `--tokenizer-source union` every point is souped from rows aligned to the union vocabulary and scored
 * with the union's tokenizer: each trial scores exactly what `souplab merge` of the point's recipe writes
 * to disk scores, read back as a model folder, and `--export` writes the bytes `souplab merge best.yaml` does.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { openCheckpointPath } from '../../src/node/openCheckpointPath';
import { pointRecipeYaml } from '../../src/search/outputs';
import { CLI_ALIGNMENT, positionalVocabularyWarning } from '../../src/search/searchVocabulary';
import { STUDIO_ALIGNMENT } from '../../src/ui/search/useVocabularyWarning';
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

/** A folder as lm-eval leaves it (one results file), for an evaluator command to copy. */
function lmEvalResults(): string {
  const results = join(dir, 'lm-eval', 'org__model');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'results_2025-06-01T10-20-30.json'), JSON.stringify({ results: { arc: { alias: 'arc', 'acc,none': 0.5 } }, group_subtasks: {}, higher_is_better: { arc: { acc: true } } }));
  return join(dir, 'lm-eval');
}

const trialsOf = (out: string): TrialRecord[] =>
  readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrialRecord).filter((t) => t.key !== undefined);

describe('souplab search over models whose vocabularies differ', () => {
  it('without a tokenizer source it says that the vocabularies differ and the rows are souped by position', async () => {
    const io = captureIO();
    expect(await runCli(['search', '--models', models, '--tasks', tasks, '--backend', 'cpu', '--out', join(dir, 'by-position'), '--step', '0.5', '--shapley', 'none'], io)).toBe(0);
    expect(io.err()).toContain("warning: the models' vocabularies differ (tool: +1 token: <|tool|>; lacks 1 of chat's tokens: <|chat|>): their embedding and LM-head rows are souped by position");
  });

  it('the warning is one engine sentence: the CLI and the studio differ only in how they say to align the rows, and models that agree get none', async () => {
    const chat = await openCheckpointPath(join(dir, 'chat'));
    const tool = await openCheckpointPath(join(dir, 'tool'));
    try {
      const differ = [{ name: 'chat', path: './chat', checkpoint: chat }, { name: 'tool', path: './tool', checkpoint: tool }];
      const words = "the models' vocabularies differ (tool: +1 token: <|tool|>; lacks 1 of chat's tokens: <|chat|>): their embedding and LM-head rows are souped by position; ";
      expect(await positionalVocabularyWarning(differ, CLI_ALIGNMENT)).toBe(`${words}a tokenizer source (union, base or a model) aligns them`);
      expect(await positionalVocabularyWarning(differ, STUDIO_ALIGNMENT)).toBe(`${words}choose the output vocabulary (union or base) in the Ingredients view’s pre-flight to align them`);
      const same = [{ name: 'a', path: './a', checkpoint: chat }, { name: 'b', path: './b', checkpoint: chat }];
      expect(await positionalVocabularyWarning(same, STUDIO_ALIGNMENT)).toBeNull();
    } finally {
      await chat.close();
      await tool.close();
    }
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
      writeFileSync(recipe, pointRecipeYaml({ ...t, heldOutObjective: t.heldOutObjective }, ['chat', 'tool'], ['../chat', '../tool'], 'a point', { tokenizerSource: 'union' }));
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

  it('--evaluator-cmd with --tokenizer-source union: each point folder has the union vocabulary and the bytes souplab merge writes of its recipe; best.yaml says it', async () => {
    // What the evaluator "wrote": an lm-eval results file, copied by the command only when the soup has both added tokens.
    const template = `grep -q '<|chat|>' {model}/tokenizer.json && grep -q '<|tool|>' {model}/tokenizer.json && cp -r ${lmEvalResults()}/. {out}/`;
    const out = join(dir, 'cluster-union');
    const io = captureIO();
    const code = await runCli(['search', '--models', models, '--step', '0.5', '--shapley', 'none', '--backend', 'cpu', '--out', out, '--evaluator-cmd', template, '--keep-soups', '--tokenizer-source', 'union'], io);
    expect(code, io.err()).toBe(0);
    expect(io.err()).toContain('vocabulary: output vocabulary: the union');
    const best = readFileSync(join(out, 'best.yaml'), 'utf8');
    expect(best).toContain('tokenizer_source: union');
    expect(best).toContain(join(dir, 'chat'));
    expect(best).toContain(join(dir, 'tool'));

    const points = readdirSync(join(out, 'work')).filter((p) => p.startsWith('soup-')).sort();
    expect(points).toEqual(['soup-0.5_0.5', 'soup-0_1', 'soup-1_0']);
    for (const point of points) {
      const folder = join(out, 'work', point);
      const recipe = readFileSync(join(folder, 'recipe.yaml'), 'utf8');
      // Every model stays in the recipe, weight 0 included: the vocabulary is the search's.
      expect(recipe).toContain('tokenizer_source: union');
      expect(recipe.match(/- model: /g)).toHaveLength(2);
      const merged = join(dir, `cluster-merged-${point}`);
      expect(await runCli(['merge', join(folder, 'recipe.yaml'), '--out', merged, '--backend', 'cpu', '--quiet'], captureIO())).toBe(0);
      for (const file of ['model.safetensors', 'tokenizer.json', 'config.json']) expect(Buffer.compare(readFileSync(join(folder, 'model', file)), readFileSync(join(merged, file))), `${point}/${file}`).toBe(0);
      const tokenizer = JSON.parse(readFileSync(join(folder, 'model', 'tokenizer.json'), 'utf8')) as { added_tokens: { content: string }[] };
      expect(tokenizer.added_tokens.map((t) => t.content)).toEqual(expect.arrayContaining(['<|chat|>', '<|tool|>']));
    }
  }, 300_000);

  it('--tokenizer FILE (mergekit\'s tokenizer: block): the soup scores as souplab merge writes best.yaml, which keeps the block; each cluster point\'s recipe keeps it; bad settings are refused', async () => {
    // <|tool|>'s row forced to zeros in every model, the vocabulary padded to a multiple of 8: both differ from union alone.
    const block = join(dir, 'tokenizer.yaml');
    writeFileSync(block, 'tokenizer:\n  source: union\n  tokens:\n    <|tool|>:\n      source: {kind: zero}\n      force: true\n  pad_to_multiple_of: 8\n');
    const out = join(dir, 'block');
    const args = ['--tasks', tasks, '--backend', 'cpu', '--tune-share', '1', '--shapley', 'none', '--plan', 'grid', '--step', '0.5'];
    const io = captureIO();
    expect(await runCli(['search', '--models', models, ...args, '--out', out, '--tokenizer', block], io), io.err()).toBe(0);
    expect(io.err()).toContain('vocabulary: output vocabulary: the union');
    const best = readFileSync(join(out, 'best.yaml'), 'utf8');
    expect(best).toMatch(/tokenizer:\n {2}source: union\n {2}tokens:\n {4}<\|tool\|>:\n {6}source:\n {8}kind: zero\n {6}force: true\n {2}pad_to_multiple_of: 8/);
    expect(best.match(/- model: /g)).toHaveLength(2);

    // souplab merge of best.yaml: the block's rows, and the same scores read back from disk.
    const merged = join(dir, 'block-merged');
    expect(await runCli(['merge', join(out, 'best.yaml'), '--out', merged, '--backend', 'cpu', '--quiet'], captureIO())).toBe(0);
    const tokenizer = JSON.parse(readFileSync(join(merged, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
    const toolId = tokenizer.added_tokens.find((t) => t.content === '<|tool|>')!.id;
    const embed = readSafetensors(readFileSync(join(merged, 'model.safetensors'))).tensors.get('model.embed_tokens.weight')!;
    expect(embed.shape[0] % 8).toBe(0);
    const rowBytes = embed.data.length / embed.shape[0];
    expect(new Float32Array(embed.data.slice(toolId * rowBytes, (toolId + 1) * rowBytes).buffer).every((v) => v === 0)).toBe(true);
    const alone = join(dir, 'block-alone');
    expect(await runCli(['search', '--models', `m=${merged}`, ...args, '--out', alone], captureIO())).toBe(0);
    const bestWeights = [...best.matchAll(/weight: ([\d.]+)/g)].map((m) => Number(m[1]));
    const bestTrial = trialsOf(out).find((t) => t.weights.every((w, i) => Math.abs(w - bestWeights[i]) < 1e-9))!;
    expect(trialsOf(alone)[0].tune).toEqual(bestTrial.tune);

    // Trials aligned by the block are not reused with a tokenizer source, and the two together are refused.
    const resumed = captureIO();
    expect(await runCli(['search', '--models', models, ...args, '--out', out, '--resume', '--tokenizer-source', 'union'], resumed)).toBe(2);
    expect(resumed.err(), resumed.err()).toContain('--resume found a search of tokenizer block');
    const both = captureIO();
    expect(await runCli(['search', '--models', models, ...args, '--out', join(dir, 'both'), '--tokenizer', block, '--tokenizer-source', 'union'], both)).not.toBe(0);
    expect(both.err()).toContain('give either --tokenizer-source or --tokenizer, not both');
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, 'source: union\ntokens:\n  <|tool|>:\n    source: nope\n');
    const bad = captureIO();
    expect(await runCli(['search', '--models', models, ...args, '--out', join(dir, 'bad-block'), '--tokenizer', unknown], bad)).not.toBe(0);
    expect(bad.err()).toContain("unknown.yaml line 3: token <|tool|>: source model 'nope' is not one of the recipe's models (chat, tool)");

    // With an external evaluator every point's recipe keeps every model and the block.
    const cluster = join(dir, 'cluster-block');
    const template = `test -s {model}/model.safetensors && cp -r ${lmEvalResults()}/. {out}/`;
    const ran = captureIO();
    expect(await runCli(['search', '--models', models, '--step', '0.5', '--shapley', 'none', '--backend', 'cpu', '--out', cluster, '--evaluator-cmd', template, '--tokenizer', block], ran), ran.err()).toBe(0);
    for (const point of readdirSync(join(cluster, 'work')).filter((p) => p.startsWith('soup-'))) {
      const recipe = readFileSync(join(cluster, 'work', point, 'recipe.yaml'), 'utf8');
      expect(recipe.match(/- model: /g)).toHaveLength(2);
      expect(recipe).toContain('pad_to_multiple_of: 8');
      expect(recipe).toContain('kind: zero');
    }
    expect(readFileSync(join(cluster, 'best.yaml'), 'utf8')).toContain('pad_to_multiple_of: 8');
  }, 300_000);

  it('--evaluator-cmd refuses a tokenizer source that is not union, base or one of the models, before anything runs', async () => {
    const io = captureIO();
    const code = await runCli(['search', '--models', models, '--out', join(dir, 'cluster-bad'), '--evaluator-cmd', 'cp -r x {out} {model}', '--tokenizer-source', 'nope'], io);
    expect(code).not.toBe(0);
    expect(io.err()).toContain('tokenizer source nope: not union, base or one of the models of the search (chat, tool)');
  });
});
