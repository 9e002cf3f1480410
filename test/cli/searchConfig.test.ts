/**
 * souplab search --config: a YAML or JSON file of the search's long option names, read by the in-memory
 * search and the search with an external evaluator alike; the command line wins; paths are the file's.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { configFlags, parseSearchArgs } from '../../src/cli/searchConfig';
import { ANY_SEARCH_FLAGS, CLUSTER_SEARCH_FLAGS, SEARCH_FLAGS } from '../../src/cli/searchFlags';
import { captureIO, writeTinyModel } from '../eval/helpers';

let dir: string;
let confDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-config-'));
  confDir = join(dir, 'configs');
  mkdirSync(confDir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(confDir, name);
  writeFileSync(path, text);
  return path;
};

describe('search config files', () => {
  it('turns YAML into the flags the command line gives, with paths relative to the file', () => {
    const file = write(
      'slurm.yaml',
      [
        'models:',
        '  alpha: ../ckpt/alpha',
        '  beta: /abs/beta+lora/b',
        'evaluator-cmd: lm_eval --model vllm --model_args pretrained={model} --output_path {out}',
        'out: results',
        'work-dir: /shared/work',
        'jobs: 3',
        'launcher: slurm',
        'slurm-args: [--partition=gpu, --gres=gpu:8, "--comment=two words"]',
        'keep-soups: true',
        'merge-in-job: false',
        'plan: grid',
        'tune-share: 0.5',
        'tokenizer: vocab/tokenizer.yaml',
        'score-tables: [tables/bfcl.csv]',
      ].join('\n'),
    );
    const { positionals, flags } = configFlags(file, CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'here');
    expect(positionals).toEqual([join(confDir, 'tables', 'bfcl.csv')]);
    expect(Object.fromEntries(flags)).toEqual({
      models: `alpha=${join(dir, 'ckpt', 'alpha')};beta=/abs/beta+${join(confDir, 'lora', 'b')}`,
      'evaluator-cmd': 'lm_eval --model vllm --model_args pretrained={model} --output_path {out}',
      out: join(confDir, 'results'),
      'work-dir': '/shared/work',
      jobs: '3',
      launcher: 'slurm',
      'slurm-args': "--partition=gpu --gres=gpu:8 '--comment=two words'",
      'keep-soups': true,
      plan: 'grid',
      'tune-share': '0.5',
      tokenizer: join(confDir, 'vocab', 'tokenizer.yaml'),
    });
  });

  it('reads JSON, the string forms of models and tasks, and a plan file relative to the file', () => {
    const file = write('plain.json', JSON.stringify({ models: 'a=m/a;b=m/b', tasks: 'arc.jsonl, more/', plan: 'index.csv', seed: 7, stream: true }));
    const { flags } = configFlags(file, SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'here');
    expect(flags.get('models')).toBe(`a=${join(confDir, 'm', 'a')};b=${join(confDir, 'm', 'b')}`);
    expect(flags.get('tasks')).toBe(`${join(confDir, 'arc.jsonl')},${join(confDir, 'more')}`);
    expect(flags.get('plan')).toBe(join(confDir, 'index.csv'));
    expect(flags.get('seed')).toBe('7');
    expect(flags.get('stream')).toBe(true);
  });

  it('the worked Slurm + vLLM config in docs/cluster.md is a valid config for the cluster search', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'cluster.md'), 'utf8');
    const block = doc.split('## A search config file')[1]?.match(/```yaml\n([\s\S]*?)```/)?.[1];
    expect(block).toBeDefined();
    const { positionals, flags } = configFlags(write('doc.yaml', block ?? ''), CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'here');
    expect(positionals).toEqual([join(confDir, 'bfcl_scores.csv')]);
    expect(flags.get('launcher')).toBe('slurm');
    expect(flags.get('slurm-args')).toBe('--partition=gpu --gres=gpu:8 --time=04:00:00 --cpus-per-task=32');
    expect(flags.get('evaluator-cmd')).toMatch(/^lm_eval --model vllm --model_args pretrained=\{model\},tensor_parallel_size=8\S* --tasks \S+ --batch_size auto --output_path \{out\} --log_samples$/);
    expect(flags.get('merge-in-job')).toBe(true);
    expect(flags.has('keep-soups')).toBe(false);
  });

  it('the command line wins over the file, and its score tables over the file\'s', () => {
    const file = write('win.yaml', 'models: {a: a, b: b}\njobs: 3\nout: from-file\nscore-tables: t.csv\n');
    const { positionals, flags } = parseSearchArgs(['x.csv', '--config', file, '--jobs', '5'], CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'here');
    expect(positionals).toEqual(['x.csv']);
    expect(flags.get('jobs')).toBe('5');
    expect(flags.get('out')).toBe(join(confDir, 'from-file'));
    expect(flags.has('config')).toBe(false);
  });

  it('refuses unknown keys, wrong types and keys of the other search in one sentence naming the key and the file', () => {
    const cases: [string, string, RegExp][] = [
      ['unknown.yaml', 'modles: {a: a}\n', /unknown\.yaml: unknown key "modles"/],
      ['jobs.yaml', 'jobs: [1, 2]\n', /jobs\.yaml: "jobs" should be text or a number, got a list$/],
      ['keep.yaml', 'keep-soups: "yes"\n', /keep\.yaml: "keep-soups" should be true or false, got the text "yes"$/],
      ['models.yaml', 'models: [a, b]\n', /models\.yaml: "models" should be a map of name: path, or the text "name=path;…", got a list$/],
      ['tasks.yaml', 'tasks: {a: 1}\n', /tasks\.yaml: "tasks" should be a list of paths, or one text, got a map$/],
      ['list.yaml', '- a\n- b\n', /list\.yaml: a search config is a map of option names to values, got a list$/],
      ['broken.yaml', 'models: {a: [\n', /broken\.yaml: not valid YAML or JSON/],
    ];
    for (const [name, text, message] of cases) {
      const file = write(name, text);
      expect(() => configFlags(file, CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'here'), name).toThrow(message);
    }
    const stream = write('stream.yaml', 'stream: true\n');
    expect(() => configFlags(stream, CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'with evaluator-cmd')).toThrow(/stream\.yaml: "stream" does not apply with evaluator-cmd$/);
  });

  it('an option of the other kind of search is named as such on the command line, not as unknown', async () => {
    const cases: [string[], string][] = [
      [['--estimate', '--evaluator-cmd', 'echo {out}'], 'souplab search: --estimate does not apply with evaluator-cmd (an external evaluator)\n'],
      [['--stream', '--evaluator-cmd', 'echo {out}'], 'souplab search: --stream does not apply with evaluator-cmd (an external evaluator)\n'],
      [['--jobs', '3'], 'souplab search: --jobs does not apply without evaluator-cmd (the in-memory search)\n'],
      [['--bogus'], 'souplab search: unknown option --bogus\n'],
    ];
    for (const [extra, message] of cases) {
      const io = captureIO();
      expect(await runCli(['search', '--models', 'a=x;b=y', '--tasks', 't.jsonl', '--out', join(confDir, 'never'), ...extra], io), extra.join(' ')).toBe(2);
      expect(io.err()).toBe(message);
    }
    expect(existsSync(join(confDir, 'never'))).toBe(false);
  });

  it('souplab search reads it: the in-memory search resolves the file\'s paths, and a missing file is named', async () => {
    const file = write('in-memory.yaml', 'models: {a: nowhere/a, b: nowhere/b}\ntasks: [arc.jsonl]\nout: results\n');
    const io = captureIO();
    expect(await runCli(['search', '--config', file], io)).toBe(2);
    expect(io.err()).toContain(`${join(confDir, 'arc.jsonl')}: no such file or folder`);

    const missing = captureIO();
    expect(await runCli(['search', '--config', join(confDir, 'none.yaml')], missing)).toBe(2);
    expect(missing.err()).toMatch(/none\.yaml.*no such file/);
  });

  it('an evaluator-cmd in the file runs the search with an external evaluator; flags on the command line still apply', async () => {
    for (const [name, delta] of [['alpha', 31], ['beta', 32]] as const) await writeTinyModel(join(dir, 'ckpt', name), { architecture: 'llama', seed: 12, deltaSeed: delta, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
    // The evaluator writes an lm-eval results file for one task.
    const results = JSON.stringify({ results: { arc: { alias: 'arc', 'acc,none': 0.5 } }, group_subtasks: {}, higher_is_better: { arc: { acc: true } } });
    const fake = join(dir, 'results.json');
    writeFileSync(fake, results);
    const file = write(
      'external.yaml',
      ['models:', '  alpha: ../ckpt/alpha', '  beta: ../ckpt/beta', `evaluator-cmd: test -f {model}/model.safetensors && cp ${fake} {out}/results_2025-01-01T00-00-00.json`, 'out: external-results', 'step: 0.5', 'backend: cpu', 'jobs: 1'].join('\n'),
    );
    const io = captureIO();
    const code = await runCli(['search', '--config', file, '--jobs', '2', '--quiet'], io);
    expect(code, io.err()).toBe(0);
    expect(io.out()).toMatch(/searched \d+ points .* 3 soups in .*external-results \(3 evaluated now, 3 jobs submitted\)/);
    const csv = readFileSync(join(confDir, 'external-results', 'trials.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('recipe,kind,weight: alpha,weight: beta,arc,overall,held-out overall,time (s)');
    expect(existsSync(join(confDir, 'external-results', 'work', 'jobs.jsonl'))).toBe(true);
  }, 120_000);
});
