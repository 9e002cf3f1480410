import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseSize } from '../../src/cli/commands/merge';
import type { CliIO } from '../../src/cli/io';
import { runCli } from '../../src/cli/runCli';
import { parseRecipe } from '../../src/merge/recipe';
import { firstDifference, int64Tensor, randomTensor, readSafetensors, referenceSoup, writeModel, type TestTensor } from '../merge/models';

let dir: string;

function model(dtype: 'BF16' | 'F16' | 'F32', seed: number): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', dtype, [50, 16], seed),
    randomTensor('model.layers.0.self_attn.q_proj.weight', dtype, [16, 16], seed + 1),
    randomTensor('model.layers.0.mlp.up_proj.weight', dtype, [40, 16], seed + 2),
    randomTensor('model.layers.1.self_attn.q_proj.weight', dtype, [16, 16], seed + 3),
    randomTensor('model.layers.1.mlp.up_proj.weight', dtype, [40, 16], seed + 4),
    int64Tensor('model.counter', [], [BigInt(seed)]),
    randomTensor('model.norm.weight', dtype, [16], seed + 5),
    randomTensor('lm_head.weight', dtype, [50, 16], seed + 6),
  ];
}

const A = model('BF16', 10);
const B = model('BF16', 20);
const C = model('F16', 30);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-merge-'));
  writeModel(join(dir, 'model-a'), A, {
    layout: 'folder',
    extraFiles: {
      'config.json': JSON.stringify({ architectures: ['LlamaForCausalLM'], torch_dtype: 'float32', num_hidden_layers: 2 }),
      'generation_config.json': '{"do_sample": true}',
      'tokenizer.json': '{"model": {}}',
      'tokenizer_config.json': '{}',
      'special_tokens_map.json': '{}',
      'README.md': 'not carried over',
    },
  });
  writeModel(join(dir, 'model-b'), B, { layout: 'sharded', shards: 3 });
  writeModel(join(dir, 'model-c.safetensors'), C);
  writeFileSync(
    join(dir, 'soup.yaml'),
    'merge_method: linear\nmodels:\n  - model: model-a\n    parameters:\n      weight: 2\n  - model: model-b\n    parameters:\n      weight: 1\n  - model: ./model-c.safetensors\n    parameters:\n      weight: 1\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], opts: { tty?: boolean; onStderr?: (text: string) => void; controller?: AbortController } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const controller = opts.controller ?? new AbortController();
  const io: CliIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => {
      stderr += t;
      opts.onStderr?.(t);
    },
    stderrIsTTY: opts.tty ?? false,
    signal: controller.signal,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

function readOutput(path: string): Map<string, TestTensor> {
  const files = path.endsWith('.safetensors') ? [path] : readdirSync(path).filter((f) => f.endsWith('.safetensors')).map((f) => join(path, f));
  const out = new Map<string, TestTensor>();
  for (const f of files) for (const [k, v] of readSafetensors(readFileSync(f)).tensors) out.set(k, v);
  return out;
}

function expectSoupOf(out: Map<string, TestTensor>, weights: number[], models: TestTensor[][], outDtype: 'BF16' | 'F32'): void {
  const sum = weights.reduce((a, b) => a + b, 0);
  models[0].forEach((t, i) => {
    const got = out.get(t.name)!;
    if (t.dtype === 'I64') {
      expect(got.data).toEqual(t.data);
      return;
    }
    const expected = referenceSoup('linear', weights.map((w) => w / sum), models.map((m) => m[i]), outDtype);
    expect(firstDifference(got.data, expected), t.name).toBeUndefined();
  });
}

describe('souplab merge', () => {
  test('into a sharded folder: model, recipe.yaml, config and tokenizer files of the first model', async () => {
    const out = join(dir, 'out-folder');
    const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', out, '--shard-size', '4KB', '--backend', 'cpu']);
    expect(r.stderr).toBe(
      'warning: model-c.safetensors: 7 tensors are F16 where model-a has BF16 (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, model.layers.0.mlp.up_proj.weight, … (7 in all)); each is read exactly and merged in f32\n' +
        'note: 1 non-float tensor (I64) copied from model-a, not averaged: model.counter\n',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^merged 3 models \(linear\) into .*out-folder\n {2}tensors {3}8 \(7 merged, 1 copied from model-a\)\n/);
    expect(r.stdout).toContain('verified  every written header re-read and checked');
    const files = readdirSync(out).sort();
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    expect(files).toEqual(expect.arrayContaining(['model.safetensors.index.json', 'recipe.yaml', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']));
    expect(files).not.toContain('README.md');
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]); // no temporaries left
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ torch_dtype: 'bfloat16', num_hidden_layers: 2 });
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe('{"model": {}}');
    const recipe = parseRecipe(readFileSync(join(out, 'recipe.yaml'), 'utf8')).recipe;
    expect(recipe.models.map((m) => m.model.path)).toEqual(['model-a', 'model-b', './model-c.safetensors']);
    const firstShard = readSafetensors(readFileSync(join(out, files.find((f) => f.endsWith('.safetensors'))!)));
    expect(firstShard.metadata.format).toBe('pt');
    expect(firstShard.metadata['souplab.recipe']).toBe(readFileSync(join(out, 'recipe.yaml'), 'utf8'));
    expectSoupOf(readOutput(out), [2, 1, 1], [A, B, C], 'BF16');
  });

  test('into one file, --quiet prints nothing; progress is drawn only on a terminal', async () => {
    const out = join(dir, 'quiet.safetensors');
    const quiet = await cli(['merge', join(dir, 'soup.yaml'), '--out', out, '--quiet'], { tty: true });
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
    expectSoupOf(readOutput(out), [2, 1, 1], [A, B, C], 'BF16');

    const plain = await cli(['merge', join(dir, 'soup.yaml'), '--out', join(dir, 'plain.safetensors')]);
    expect(plain.stderr).not.toContain('\r');
    const tty = await cli(['merge', join(dir, 'soup.yaml'), '--out', join(dir, 'tty.safetensors')], { tty: true });
    expect(tty.stderr).toMatch(/\rmerging \d+\/8 tensors {2}.* of .* {2}.*\/s {2}ETA /);
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true); // the line is cleared before the summary
  });

  test('backend: automatic picks the CPU over a software WebGPU adapter and says so in one line', async () => {
    const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', join(dir, 'auto.safetensors')]);
    expect(r.code).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.includes('merging on the CPU'));
    if (/backend {3}WebGPU/.test(r.stdout)) {
      // A hardware adapter (a machine with a GPU): no notice, and it is not a software one.
      expect(notes).toEqual([]);
      expect(r.stdout).not.toMatch(/swiftshader|llvmpipe|lavapipe/i);
    } else {
      expect(notes).toHaveLength(1);
      // No GPU device node (this machine), a software adapter, or no adapter at all.
      expect(notes[0]).toMatch(/^note: (no GPU device here \(no \/dev\/dri render node, \/dev\/nvidia\* or \/dev\/dxg\)|the WebGPU adapter \(.*\) is a software renderer.*|.*WebGPU.*); merging on the CPU \(CPU/);
      expect(r.stdout).toMatch(/backend {3}CPU/);
    }
  });

  test('--backend webgpu runs the WGSL kernel (SwiftShader here) and matches the CPU within 1 ulp', async () => {
    const out = join(dir, 'gpu.safetensors');
    const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', out, '--backend', 'webgpu']);
    expect(r.stderr).not.toContain('merging on the CPU');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend {3}WebGPU/);
    const cpuOut = join(dir, 'cpu-ref.safetensors');
    expect((await cli(['merge', join(dir, 'soup.yaml'), '--out', cpuOut, '--backend', 'cpu'])).code).toBe(0);
    const gpu = readOutput(out);
    const cpu = readOutput(cpuOut);
    let total = 0;
    let same = 0;
    for (const [name, t] of cpu) {
      const g = gpu.get(name)!;
      expect(g.dtype).toBe(t.dtype);
      if (t.dtype !== 'BF16') {
        expect(g.data).toEqual(t.data);
        continue;
      }
      const a = new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length / 2);
      const b = new Uint16Array(g.data.buffer, g.data.byteOffset, g.data.length / 2);
      for (let i = 0; i < a.length; i++) {
        total++;
        if (a[i] === b[i]) same++;
        else expect(Math.abs(a[i] - b[i]), `${name}[${i}]`).toBeLessThanOrEqual(1);
      }
    }
    expect(same / total).toBeGreaterThanOrEqual(0.999);
  });

  test('Ctrl-C mid-merge: exit 130, "cancelled", nothing written', async () => {
    const out = join(dir, 'cancelled');
    const controller = new AbortController();
    const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', out, '--shard-size', '4KB'], {
      tty: true,
      controller,
      onStderr: (t) => {
        if (t.includes('merging ')) controller.abort();
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/souplab merge: cancelled\n$/);
    expect(existsSync(out)).toBe(false);
  });

  test('an output that is an input is refused before anything is read or written', async () => {
    const before = readFileSync(join(dir, 'model-c.safetensors'));
    const cases: [string, string][] = [
      [join(dir, 'model-c.safetensors'), 'input model ./model-c.safetensors (soup.yaml line 9)'],
      [join(dir, 'model-a'), 'input model model-a (soup.yaml line 3)'],
      [join(dir, 'model-a') + '/', 'input model model-a (soup.yaml line 3)'],
      [join(dir, 'model-a', 'model.safetensors'), 'input model model-a (soup.yaml line 3)'],
      [join(dir, 'model-b', 'merged.safetensors'), 'input model model-b (soup.yaml line 6)'],
      [dir, 'input model model-a (soup.yaml line 3)'], // a folder holding the inputs
    ];
    for (const [out, named] of cases) {
      const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', out]);
      expect(r.code, out).toBe(2);
      expect(r.stderr).toContain(`would overwrite ${named.replace('soup.yaml', join(dir, 'soup.yaml'))}; choose another output`);
    }
    expect(readFileSync(join(dir, 'model-c.safetensors'))).toEqual(before);
    expect(readdirSync(join(dir, 'model-b')).sort()).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
  });

  test.each([
    ['a weight that is not a number', 'merge_method: linear\nmodels:\n  - model: model-a\n    parameters:\n      weight: heavy\n', "souplab merge: bad.yaml line 5: weight must be a number, got 'heavy'"],
    ['an unknown method', 'merge_method: mean\nmodels:\n  - model: model-a\n', "souplab merge: bad.yaml line 1: unknown merge method 'mean'"],
    ['arcee_fusion with two models', 'merge_method: arcee_fusion\nbase_model: model-a\nmodels:\n  - model: model-b\n  - model: ./model-c.safetensors\n', 'souplab merge: bad.yaml line 3: arcee_fusion merges exactly one model besides base_model, got 2'],
    ['slerp without its t', 'merge_method: slerp\nbase_model: model-a\nmodels:\n  - model: model-b\n', 'souplab merge: bad.yaml line 1: slerp needs t'],
    ['YAML syntax', 'merge_method: linear\nmodels:\n  - model: [model-a\n', 'souplab merge: bad.yaml line 3: YAML syntax error'],
    ['a missing model path', 'merge_method: linear\nmodels:\n  - model: model-a\n  - model: ./nowhere.safetensors\n', 'souplab merge: bad.yaml line 4: model ./nowhere.safetensors not found ('],
    ['a Hugging Face id', 'merge_method: linear\nmodels:\n  - model: model-a\n  - model: meta-llama/Llama-3.1-8B\n', 'download it first, e.g. huggingface-cli download meta-llama/Llama-3.1-8B --local-dir <folder>'],
    ['a model that is not safetensors', 'merge_method: linear\nmodels:\n  - model: model-a\n  - model: soup.yaml\n', 'souplab merge: bad.yaml line 4: model soup.yaml: '],
  ])('recipe error: %s → exit 2, one line naming the line', async (_what, text, expected) => {
    writeFileSync(join(dir, 'bad.yaml'), text);
    const r = await cli(['merge', join(dir, 'bad.yaml'), '--out', join(dir, 'never.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(expected.replace('bad.yaml', join(dir, 'bad.yaml')));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
  });

  test('one model under two spellings is refused, not weighed twice', async () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const cases: [string, string][] = [
      ['./model-c.safetensors', 'sub/./../model-c.safetensors'],
      ['model-c.safetensors', `${dir}/./model-c.safetensors`],
      ['model-b', 'model-b/model.safetensors.index.json'],
      ['model-a', 'model-a/./model.safetensors'],
    ];
    for (const [first, second] of cases) {
      writeFileSync(join(dir, 'sub', 'twice.yaml'), `merge_method: linear\nmodels:\n  - model: ../${first}\n  - model: ${second.startsWith('/') ? second : `../${second}`}\n`);
      const r = await cli(['merge', join(dir, 'sub', 'twice.yaml'), '--out', join(dir, 'never.safetensors')]);
      expect(r.code, second).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/twice\.yaml line 4: model .* is the same checkpoint as \.\.\/.* \(.*twice\.yaml line 3\), written another way; list each model once/);
      expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
    }
  });

  test('pre-flight errors: each printed, exit 2, nothing read or written', async () => {
    const odd = model('BF16', 40).map((t) => (t.name.includes('mlp') ? randomTensor(t.name, 'BF16', [41, 16], 1) : t));
    writeModel(join(dir, 'model-odd.safetensors'), odd);
    writeFileSync(join(dir, 'odd.yaml'), 'merge_method: linear\nmodels:\n  - model: model-a\n  - model: model-odd.safetensors\n');
    const r = await cli(['merge', join(dir, 'odd.yaml'), '--out', join(dir, 'odd-out')]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error: '))).toEqual([
      'error: model-odd.safetensors: tensor model.layers.0.mlp.up_proj.weight has shape [41, 16], model-a has [40, 16]',
      'error: model-odd.safetensors: tensor model.layers.1.mlp.up_proj.weight has shape [41, 16], model-a has [40, 16]',
    ]);
    expect(r.stderr).toContain('souplab merge: the pre-flight check found 2 problems; nothing was read or written\n');
    expect(existsSync(join(dir, 'odd-out'))).toBe(false);
  });

  test.each([
    [['merge'], 'souplab merge: give a recipe file (mergekit YAML)'],
    [['merge', 'x.yaml'], 'souplab merge: --out is required'],
    [['merge', 'RECIPE', '--out', 'o.safetensors', '--backend', 'tpu'], "souplab merge: --backend must be webgpu or cpu, got 'tpu'"],
    [['merge', 'RECIPE', '--out', 'o', '--shard-size', 'big'], "souplab merge: --shard-size must be a size such as 5GB, 500MB or 2GiB, got 'big'"],
    [['merge', 'RECIPE', '--out', 'o.safetensors', '--shard-size', '1GB'], 'souplab merge: --shard-size applies to a folder output'],
    [['merge', 'no-such-recipe.yaml', '--out', 'o.safetensors'], 'souplab merge: no-such-recipe.yaml: no such file'],
  ])('usage error %j', async (args, expected) => {
    const r = await cli(args.map((a) => (a === 'RECIPE' ? join(dir, 'soup.yaml') : a === 'o' || a === 'o.safetensors' ? join(dir, a) : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(expected);
  });

  test('parseSize', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('500MB')).toBe(5e8);
    expect(parseSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseSize('1.5g')).toBe(1.5e9);
    expect(parseSize('4096')).toBe(4096);
    expect(() => parseSize('0')).toThrow('at least 1 byte');
    expect(() => parseSize('-1GB')).toThrow('must be a size');
  });

  test('the output folder may already hold an older model: it is replaced whole', async () => {
    const out = join(dir, 'replace');
    mkdirSync(out);
    writeFileSync(join(out, 'model-00001-of-00009.safetensors'), 'old shard');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const r = await cli(['merge', join(dir, 'soup.yaml'), '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files).not.toContain('model-00001-of-00009.safetensors');
    expect(files).toContain('notes.txt');
    expect(files).toContain('model.safetensors');
  });
});
