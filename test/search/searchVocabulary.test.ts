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
import { randomTensor, readSafetensors, safetensorsBytes } from '../merge/models';
import { captureIO, writeTinyModel } from '../eval/helpers';

let dir: string;
let models: string;
let tasks: string;

/** A tiny fine-tune of the shared base with one more special token, its rows seeded. */
async function writeModelAdding(folder: string, deltaSeed: number, token: string): Promise<void> {
  await writeTinyModel(folder, { architecture: 'llama', seed: 12, deltaSeed, deltaScale: 0.3, dtype: 'F32', hiddenSize: 32, intermediateSize: 64 });
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { vocab_size: number };
  const tokenizer = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as { added_tokens: Record<string, unknown>[] };
  const id = config.vocab_size;
  tokenizer.added_tokens.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  config.vocab_size = id + 1;
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
  const { tensors } = readSafetensors(readFileSync(join(folder, 'model.safetensors')));
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
    const t = tensors.get(name)!;
    const row = randomTensor(name, 'F32', [1, t.shape[1]], deltaSeed * 7 + name.length);
    const data = new Uint8Array(t.data.length + row.data.length);
    data.set(t.data);
    data.set(row.data, t.data.length);
    tensors.set(name, { ...t, shape: [t.shape[0] + 1, t.shape[1]], data });
  }
  writeFileSync(join(folder, 'model.safetensors'), safetensorsBytes([...tensors.values()], { format: 'pt' }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-vocab-'));
  await writeModelAdding(join(dir, 'chat'), 41, '<|chat|>');
  await writeModelAdding(join(dir, 'tool'), 42, '<|tool|>');
  models = `chat=${join(dir, 'chat')};tool=${join(dir, 'tool')}`;
  // Text with both added tokens, so that each model's own row and the other's (aligned) are read.
  const lines = ['<|chat|> The quick brown fox <|tool|> jumps over the lazy dog.', 'A soup of models <|tool|> is the average <|chat|> of their weights.'];
  writeFileSync(join(dir, 'prose.jsonl'), lines.map((text) => JSON.stringify({ text })).join('\n') + '\n');
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
      const written = JSON.parse(readFileSync(join(merged, 'tokenizer.json'), 'utf8')) as { added_tokens: { content: string }[] };
      expect(written.added_tokens.map((a) => a.content)).toEqual(expect.arrayContaining(['<|chat|>', '<|tool|>']));
      // The merged folder, searched alone: its one trial is the model as written to disk.
      const alone = join(dir, `alone-${i}`);
      expect(await runCli(['search', '--models', `m=${merged}`, ...args, '--out', alone], captureIO())).toBe(0);
      const [disk] = trialsOf(alone);
      expect(disk.tune).toEqual(t.tune);
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
