/**
 * The built `souplab` binary end to end: the CLI bundle is built (as `npm run build:cli` does) into a
 * folder of this test's own, so that builds by other test files cannot swap it mid-run, and run as
 * `node bin/souplab.js merge …` in a child process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCli, type BuiltCli } from '../support/builtCli';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { firstDifference, int64Tensor, randomTensor, readSafetensors, referenceSoup, writeModel, type TestTensor } from '../merge/models';

// Inside the repository's node_modules, so that the bundle's external imports (yaml, webgpu) resolve.
let cli: BuiltCli | undefined;
let bin: string;
let dir: string;

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  cli = buildCli('souplab-merge-e2e');
  bin = cli.bin;
  dir = mkdtempSync(join(tmpdir(), 'souplab-merge-bin-'));
}, 300_000);

afterAll(() => {
  cli?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function model(seed: number, big = false): TestTensor[] {
  const rows = big ? 1024 : 24;
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [rows, 64], seed),
    ...Array.from({ length: big ? 12 : 2 }, (_, i) => randomTensor(`model.layers.${i}.mlp.up_proj.weight`, 'BF16', [rows, 64 * (big ? 32 : 1)], seed + i + 1)),
    int64Tensor('model.step', [], [BigInt(seed)]),
    randomTensor('lm_head.weight', 'BF16', [rows, 64], seed + 99),
  ];
}

/** What model() makes the preflight say on stderr for `a`. */
const nonFloatNote = 'note: 1 non-float tensor (I64) copied from a, not averaged: model.step\n';

describe('node bin/souplab.js merge', () => {
  test('merges, re-validates, exits 0; the output equals the reference', () => {
    const a = model(1);
    const b = model(2);
    writeModel(join(dir, 'a'), a, { layout: 'folder', extraFiles: { 'config.json': '{"torch_dtype": "bfloat16"}' } });
    writeModel(join(dir, 'b.safetensors'), b);
    writeFileSync(join(dir, 'r.yaml'), 'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 3}\n  - model: b.safetensors\n    parameters: {weight: 1}\n');
    const r = run(['merge', 'r.yaml', '--out', 'out', '--backend', 'cpu']);
    expect(r.stderr).toBe(nonFloatNote);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('merged 2 models (linear) into out');
    expect(r.stdout).toMatch(/backend {3}CPU, \d+ worker threads?/); // real worker threads in the bundle
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['config.json', 'model.safetensors', 'recipe.yaml']);
    const out = readSafetensors(readFileSync(join(dir, 'out', 'model.safetensors')));
    a.forEach((t, i) => {
      const got = out.tensors.get(t.name)!;
      if (t.dtype === 'I64') expect(got.data).toEqual(t.data);
      else expect(firstDifference(got.data, referenceSoup('linear', [0.75, 0.25], [t, b[i]], 'BF16')), t.name).toBeUndefined();
    });
  });

  test('--threads 16: every job in flight listens for Ctrl-C, and no Node warning about it reaches the user', () => {
    // 16 workers take 32 parts at once: more than the 10 abort listeners after which Node warns of a leak.
    const a = model(11, true);
    const b = model(12, true);
    writeModel(join(dir, 'ta.safetensors'), a);
    writeModel(join(dir, 'tb.safetensors'), b);
    writeFileSync(join(dir, 'rt.yaml'), 'merge_method: linear\nmodels:\n  - model: ta.safetensors\n  - model: tb.safetensors\n');
    const r = run(['merge', 'rt.yaml', '--out', 'threads.safetensors', '--backend', 'cpu', '--threads', '16']);
    expect(r.stderr).toBe(nonFloatNote.replace('from a,', 'from ta.safetensors,'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CPU, 16 worker threads');
    const out = readSafetensors(readFileSync(join(dir, 'threads.safetensors')));
    a.forEach((t, i) => {
      if (t.dtype !== 'I64') expect(firstDifference(out.tensors.get(t.name)!.data, referenceSoup('linear', [0.5, 0.5], [t, b[i]], 'BF16')), t.name).toBeUndefined();
    });
    const bad = run(['merge', 'rt.yaml', '--out', 'never.safetensors', '--threads', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("souplab merge: --threads must be a whole number from 1 to 256, got '0'\n");
    expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
  });

  test('a recipe error names the line; exit 2', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: heavy\n');
    const r = run(['merge', 'bad.yaml', '--out', 'x.safetensors']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("souplab merge: bad.yaml line 5: weight must be a number, got 'heavy'\n");
  });

  test('--backend webgpu without an adapter is an error, not a fallback', () => {
    writeFileSync(join(dir, 'r2.yaml'), 'merge_method: linear\nmodels:\n  - model: a\n  - model: b.safetensors\n');
    const r = run(['merge', 'r2.yaml', '--out', 'gpu.safetensors', '--backend', 'webgpu'], { VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') });
    expect(r.code).toBe(2);
    // Exactly SoupLab's lines (the preflight's note, the error): none of the Vulkan loader's or Dawn's
    // native warnings ("vkCreateInstance: Found no drivers!", a C++ source location) among them.
    expect(r.stderr).toBe(nonFloatNote + 'souplab merge: WebGPU is present but no adapter was found (no GPU driver, or WebGPU disabled)\n');
    expect(existsSync(join(dir, 'gpu.safetensors'))).toBe(false);
  });

  test('--backend webgpu with no driver chosen finds an adapter (the GPU, or SwiftShader) and equals the CPU result', () => {
    writeFileSync(join(dir, 'r3.yaml'), 'merge_method: linear\nmodels:\n  - model: a\n  - model: b.safetensors\n');
    // As a user's shell has it: no VK_ICD_FILENAMES (Vitest sets one for in-process tests).
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    const spawnMerge = (out: string, backend: string) =>
      spawnSync(process.execPath, [bin, 'merge', 'r3.yaml', '--out', out, '--backend', backend], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    const gpu = spawnMerge('auto-gpu.safetensors', 'webgpu');
    // Only the preflight's note: where the system's drivers give no adapter (here) and SwiftShader is
    // taken, the failed first try's native warnings must not reach the user.
    expect(gpu.stderr).toBe(nonFloatNote);
    expect(gpu.status).toBe(0);
    expect(gpu.stdout).toMatch(/backend {3}WebGPU on /);
    expect(spawnMerge('auto-cpu.safetensors', 'cpu').status).toBe(0);
    const g = readSafetensors(readFileSync(join(dir, 'auto-gpu.safetensors')));
    const c = readSafetensors(readFileSync(join(dir, 'auto-cpu.safetensors')));
    for (const [name, t] of c.tensors) expect(firstDifference(g.tensors.get(name)!.data, t.data), name).toBeUndefined();
  });

  /**
   * Starts a merge of two 3 MB models into `out` (small shards, so there are several temporaries), with
   * test/support/holdSecondOutput.mjs preloaded: the merge is held as it opens its second temporary until
   * it is signalled. Once the hold's marker exists, `signals` are sent — always mid-merge, however busy
   * the machine — and the exit is awaited.
   */
  let holds = 0;
  async function interruptedMerge(out: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    if (!existsSync(join(dir, 'big.yaml'))) {
      writeModel(join(dir, 'big-a.safetensors'), model(10, true));
      writeModel(join(dir, 'big-b.safetensors'), model(20, true));
      writeFileSync(join(dir, 'big.yaml'), 'merge_method: linear\nmodels:\n  - model: big-a.safetensors\n  - model: big-b.safetensors\n');
    }
    const marker = join(dir, `held-${++holds}`);
    const hold = pathToFileURL(join(__dirname, '..', 'support', 'holdSecondOutput.mjs')).href;
    const child = spawn(process.execPath, ['--import', hold, bin, 'merge', 'big.yaml', '--out', out, '--shard-size', '256KB', '--backend', 'cpu'], {
      cwd: dir,
      env: { ...process.env, SOUPLAB_TEST_HOLD_MARKER: marker },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    while (!existsSync(marker) && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 5));
    expect(existsSync(marker), `the merge was not held at its second temporary: ${stderr}`).toBe(true);
    for (const s of signals) child.kill(s);
    return { ...(await exited), stderr };
  }

  test.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s mid-merge: cancelled, exit %i, nothing left: no output, no temporaries, no created parents', async (signal, expected) => {
    // Into a folder whose parents do not exist either: the merge creates them, and must remove them.
    const out = join(dir, `parents-${signal}`, 'x', 'big-out');
    const r = await interruptedMerge(out, [signal]);
    expect(r.stderr).toContain('souplab merge: cancelled');
    expect(r.code).toBe(expected);
    expect(existsSync(join(dir, `parents-${signal}`))).toBe(false);
  }, 180_000);

  test('a second Ctrl-C quits at once, and still leaves no temporary', async () => {
    const out = join(dir, 'twice-out');
    mkdirSync(out);
    const r = await interruptedMerge(out, ['SIGINT', 'SIGINT']);
    expect(r.code).toBe(130);
    expect(readdirSync(out)).toEqual([]);
  }, 180_000);

  test('after kill -9, the next merge into the folder removes the dead process\'s temporaries', async () => {
    const out = join(dir, 'killed-out');
    const r = await interruptedMerge(out, ['SIGKILL']);
    expect(r.signal).toBe('SIGKILL');
    const left = readdirSync(out);
    expect(left.some((f) => /^\..*\.partial-/.test(f))).toBe(true); // nothing can clean up after kill -9 …
    const again = run(['merge', 'big.yaml', '--out', out, '--shard-size', '256KB', '--backend', 'cpu', '--quiet']);
    expect(again.code).toBe(0);
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]); // … but the next run does
  }, 180_000);
});
