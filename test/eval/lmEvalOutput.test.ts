import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { parseScoreTable } from '../../src/analysis/parse';
import { lmEvalSamplesTask, parseLmEvalSamples, samplesMetric } from '../../src/analysis/lmEval';
import { findLmEvalFiles } from '../../src/node/lmEvalFiles';
import { captureIO, MC_ITEMS, writeTinyModel } from './helpers';

let dir: string;
let model: string;
let tasks: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-lmeval-out-'));
  model = join(dir, 'tiny');
  await writeTinyModel(model, { architecture: 'llama', seed: 11 });
  // A blank line between items: doc_id counts items, not lines.
  writeFileSync(join(dir, 'facts.jsonl'), MC_ITEMS.map((i, k) => JSON.stringify(i) + (k === 1 ? '\n' : '')).join('\n') + '\n');
  writeFileSync(join(dir, 'prose.jsonl'), ['The quick brown fox jumps over the lazy dog.', 'A soup of models is the average of their weights.'].map((text) => JSON.stringify({ text })).join('\n') + '\n');
  tasks = `${join(dir, 'facts.jsonl')},${join(dir, 'prose.jsonl')}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface EvalJson {
  tasks: { name: string; acc?: number; acc_norm?: number; nll?: number; items?: { pred: number; pred_norm: number; gold: number; loglikelihoods: number[] }[] }[];
}

describe('souplab eval --output-path: lm-evaluation-harness layout', () => {
  it('writes DIR/<model>/results_<date>.json and samples_<task>_<date>.jsonl that the score-table import and the samples reader read back', async () => {
    const json = captureIO();
    expect(await runCli(['eval', model, '--tasks', tasks, '--backend', 'cpu', '--json'], json)).toBe(0);
    const scored = JSON.parse(json.out()) as EvalJson;

    const out = join(dir, 'lm-eval');
    const io = captureIO();
    expect(await runCli(['eval', model, '--tasks', tasks, '--backend', 'cpu', '--output-path', out], io)).toBe(0);
    // lm-eval's sanitize_model_name: "/" runs become "__", so an absolute path is one folder.
    const folder = model.replace(/["<>:/|\\?*[\]]+/g, '__');
    expect(readdirSync(out)).toEqual([folder]);
    const names = readdirSync(join(out, folder)).sort();
    expect(names).toHaveLength(3);
    expect(names[0]).toMatch(/^results_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{6}\.json$/);
    expect(lmEvalSamplesTask(names[1])).toBe('facts');
    expect(lmEvalSamplesTask(names[2])).toBe('prose');

    const found = findLmEvalFiles(out);
    expect(found.results).toEqual([join(out, folder, names[0])]);
    const text = readFileSync(found.results[0], 'utf8');
    const doc = JSON.parse(text) as Record<string, unknown> & { results: Record<string, Record<string, unknown>> };
    // The fields lm-eval's results file has (../shared/notes/interop.md), with "<metric>,<filter>" keys.
    for (const k of ['results', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'config', 'date']) expect(doc).toHaveProperty([k]);
    const mc = scored.tasks[0];
    expect(doc.results.facts['acc,none']).toBe(mc.acc);
    expect(doc.results.facts['acc_norm,none']).toBe(mc.acc_norm);
    expect(Object.keys(doc.results.prose)).toContain('bits_per_byte,none');

    // The score-table import reads it as it reads lm-eval's own: the model from pretrained=, acc_norm first.
    const table = parseScoreTable({ name: found.results[0], text });
    expect(table.models).toEqual([model]);
    expect(table.columns.find((c) => c.name === 'facts')!.values).toEqual([mc.acc_norm]);

    // Samples: doc_id is the item's index (the blank line does not count), per-sample acc / acc_norm as scored.
    const facts = parseLmEvalSamples(readFileSync(found.samples.get('facts')![0], 'utf8'), 'facts samples');
    expect(facts.map((s) => s.docId)).toEqual(MC_ITEMS.map((_, i) => i));
    facts.forEach((s, i) => {
      const item = mc.items![i];
      expect(s.metrics).toEqual({ acc: item.pred === item.gold ? 1 : 0, acc_norm: item.pred_norm === item.gold ? 1 : 0 });
    });
    expect(samplesMetric(facts, 'acc_norm')).toBe(mc.acc_norm);
    // Perplexity pairs [log-likelihood, bytes] pool back to the task's bits per byte.
    const prose = parseLmEvalSamples(readFileSync(found.samples.get('prose')![0], 'utf8'), 'prose samples');
    expect(prose.map((s) => s.docId)).toEqual([0, 1]);
    expect(samplesMetric(prose, 'bits_per_byte')).toBeCloseTo(doc.results.prose['bits_per_byte,none'] as number, 12);
    const raw = JSON.parse(readFileSync(found.samples.get('facts')![0], 'utf8').split('\n')[0]) as Record<string, unknown>;
    for (const k of ['doc_id', 'doc', 'target', 'arguments', 'resps', 'filtered_resps', 'filter', 'metrics', 'acc', 'acc_norm']) expect(raw).toHaveProperty([k]);
  }, 120_000);

  it("reads a samples line as lm-eval writes it (evaluator.py's example dict, hashes and a NaN included)", () => {
    const line =
      '{"doc_id": 7, "doc": {"question": "q"}, "target": "2", "arguments": {"gen_args_0": {"arg_0": "q", "arg_1": " a"}}, "resps": [[["-1.5", "False"]]], ' +
      '"filtered_resps": [["-1.5", "False"]], "filter": "none", "metrics": ["acc", "acc_norm"], "doc_hash": "ab", "prompt_hash": "cd", "target_hash": "ef", "acc": 1.0, "acc_norm": 0.0, "extra": NaN}';
    expect(parseLmEvalSamples(`${line}\n`, 's.jsonl')).toEqual([{ docId: 7, filter: 'none', metrics: { acc: 1, acc_norm: 0 } }]);
    expect(lmEvalSamplesTask('samples_mmlu_high_school_physics_2024-05-01T10-11-12.123456.jsonl')).toBe('mmlu_high_school_physics');
    expect(lmEvalSamplesTask('results_2024-05-01T10-11-12.123456.json')).toBeUndefined();
    expect(() => parseLmEvalSamples('{"doc": 1}\n', 's.jsonl')).toThrow(/s\.jsonl line 1: no "doc_id"/);
  });
});
