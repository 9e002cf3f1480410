/**
 * `npm run bench -- merge`: issue 3 §5. Generates 3 BF16 checkpoints of SOUPLAB_BENCH_MERGE_MB each
 * (default 320, at least 300) in os.tmpdir(), then, in the same run and the same page-cache state:
 *
 * - the durable I/O ceiling: read the three files whole and write one output of the merge's size,
 *   fsynced as the merge's output is, through reused buffers (issue 12 §3);
 * - the orchestration alone: runMerge with a no-op backend;
 * - the merge (runMerge, linear soup → BF16, output re-validated) on each available backend: time,
 *   input GB/s, peak RSS, and merge time / ceiling;
 * - `souplab merge` itself (dist/node/cli.js beside this bundle, --backend cpu): the wall time from
 *   spawning the process to its exit (start-up, planning, worker threads, merge, fsync, re-validation),
 *   over the ceiling of the same round (issue 22 §4);
 * - peak RSS again for checkpoints a third of the size (it should not grow with the model);
 * - a PyTorch CPU linear merge of the same files done as mergekit does it (each tensor loaded in
 *   bf16, torch.stack, (w·x).sum(0) / Σw in bf16, all results kept until the shard is saved), when
 *   Debian's python3-torch is installed.
 *
 * Targets (CPU backend, 2-core machine): ≤ 2.5 × the I/O ceiling in process, ≤ 1.5 × for the whole
 * `souplab merge` (median of the rounds' ratios), ≤ half the PyTorch time, peak RSS ≤ 512 MB.
 *
 * SOUPLAB_BENCH_MERGE_ROUNDS (default 5) interleaved rounds; SOUPLAB_BENCH_BACKENDS=cpu skips WebGPU;
 * SOUPLAB_BENCH_MERGE_CLI_BASELINE=path/to/cli.js times another build's `souplab merge` in the same
 * rounds (before/after on a busy machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { open, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoupJobReference, type SoupBackend } from '../src/merge/kernel';
import type { MergePlan, SoupStep } from '../src/merge/plan';
import { createNodeCpuBackend } from '../src/node/cpuWorkers';
import { EARLY_FLUSH_BYTES } from '../src/node/fileTargets';
import { openCheckpointPath, type NodeCheckpoint } from '../src/node/openCheckpointPath';
import { benchScratch, generateInputs, openGpuSoupBackend, planRecipe, timedMerge } from './mergeSetup';
import { wantBackend } from './model';
import type { Benchmark } from './registry';

const RATIO_TARGET = 2.5;
const CLI_RATIO_TARGET = 1.5;
const RSS_TARGET_MB = 512;
const TORCH_FACTOR_TARGET = 0.5;
/**
 * The start of both PyTorch comparison scripts (merge, methods): the imports (timed apart from the
 * merge), the thread count (SOUPLAB_TORCH_THREADS), the clocks started, and safetensors tensors read
 * as mergekit's loader reads them, into bf16 (open_st, load).
 */
export const TORCH_START_AND_LOAD = String.raw`import json, os, struct, sys, time
t_import = time.time()
import numpy as np
import torch
if os.environ.get('SOUPLAB_TORCH_THREADS'):
    torch.set_num_threads(int(os.environ['SOUPLAB_TORCH_THREADS']))
t0 = time.time()
c0 = os.times()
DT = {'BF16': torch.bfloat16, 'F16': torch.float16, 'F32': torch.float32}
def open_st(path):
    f = open(path, 'rb')
    n = struct.unpack('<Q', f.read(8))[0]
    h = json.loads(f.read(n))
    h.pop('__metadata__', None)
    return f, 8 + n, h
def load(f, start, info):
    a, b = info['data_offsets']
    f.seek(start + a)
    buf = bytearray(f.read(b - a))
    return torch.frombuffer(buf, dtype=DT[info['dtype']]).reshape(info['shape']).to(torch.bfloat16)
`;

/**
 * The end of both PyTorch comparison scripts (merge, methods): write the merged BF16 tensors as one
 * safetensors file, as torch's own writer lays it out, then print the timing and peak RSS as JSON.
 */
export const TORCH_WRITE_BF16_AND_REPORT = `header, offset = {'__metadata__': {'format': 'pt'}}, 0
for name, t in merged.items():
    nbytes = t.numel() * 2
    header[name] = {'dtype': 'BF16', 'shape': list(t.shape), 'data_offsets': [offset, offset + nbytes]}
    offset += nbytes
hb = json.dumps(header).encode()
hb += b' ' * ((8 - len(hb) % 8) % 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(hb)))
    f.write(hb)
    for t in merged.values():
        f.write(t.view(torch.int16).numpy().tobytes())
t1 = time.time()
c1 = os.times()
import resource
print(json.dumps({'seconds': t1 - t0, 'cpu_seconds': (c1.user + c1.system) - (c0.user + c0.system), 'import_seconds': t0 - t_import, 'threads': torch.get_num_threads(), 'version': torch.__version__, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))
`;

/** The Python with torch: SOUPLAB_PYTHON, else Debian's (python3-torch). */
export const PYTHON = process.env.SOUPLAB_PYTHON ?? '/usr/bin/python3';


/**
 * The durable I/O ceiling: every input file read whole and one output of the merge's size written and
 * fsynced (as the merge's output is), each through one reused 8 MiB buffer, reading and writing at the
 * same time. No parsing, no arithmetic, no fresh buffers: what the disk and page cache allow.
 */
async function durableCeiling(inputs: string[], outBytes: number, outPath: string, earlyFlushBytes = Infinity): Promise<number> {
  const CHUNK = 8 << 20;
  const t0 = performance.now();
  const readAll = async () => {
    const buf = new Uint8Array(CHUNK);
    for (const p of inputs) {
      const fh = await open(p, 'r');
      try {
        for (let pos = 0; ; ) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
  };
  const writeAll = async () => {
    const buf = new Uint8Array(CHUNK).fill(0x3c);
    const fh = await open(outPath, 'w');
    try {
      let flushing: Promise<void> | undefined;
      for (let pos = 0, unflushed = 0; pos < outBytes; ) {
        const { bytesWritten } = await fh.write(buf, 0, Math.min(CHUNK, outBytes - pos), pos);
        pos += bytesWritten;
        unflushed += bytesWritten;
        // As the merge's output file does (fileTargets.ts): an fdatasync not waited for, now and then.
        if (unflushed >= earlyFlushBytes && !flushing) {
          unflushed = 0;
          flushing = fh.datasync().finally(() => (flushing = undefined));
        }
      }
      await flushing;
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
  await Promise.all([readAll(), writeAll()]);
  const seconds = (performance.now() - t0) / 1000;
  await rm(outPath, { force: true });
  return seconds;
}

/** The merged output of one tensor's first elements equals the reference arithmetic. */
async function spotCheck(plan: MergePlan, outPath: string): Promise<boolean> {
  const out = await openCheckpointPath(outPath);
  try {
    const step = plan.steps.find((s) => s.kind === 'soup' && s.name.includes('mlp.up_proj')) as SoupStep;
    const n = 1 << 16;
    const inputs = await Promise.all(step.inputs.map((t) => t.source.read(t.info.byteOffset, n * 2)));
    const want = runSoupJobReference({ mode: step.mode, coefficients: step.coefficients, inputs: inputs.map((bytes) => ({ dtype: 'BF16', bytes })), outDtype: 'BF16', elementCount: n });
    const t = out.tensors.get(step.name)!;
    const got = await t.source.read(t.info.byteOffset, n * 2);
    return got.every((b, i) => b === want[i]);
  } finally {
    await out.close();
  }
}

const TORCH_SCRIPT = String.raw`${TORCH_START_AND_LOAD}
paths, out = sys.argv[1:-1], sys.argv[-1]
files = [open_st(p) for p in paths]
weights = [1.0] * len(paths)
merged = {}
for name, info in files[0][2].items():
    tensors = [load(f, s, h[name]) for f, s, h in files]
    stacked = torch.stack(tensors, dim=0)
    w = torch.tensor(weights, dtype=stacked.dtype)
    while w.dim() < stacked.dim():
        w.unsqueeze_(-1)
    res = (w * stacked).sum(dim=0)
    res = res / w.sum(dim=0)
    merged[name] = res.contiguous()
    del tensors, stacked
${TORCH_WRITE_BF16_AND_REPORT}`;

export function torchAvailable(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'python3-torch is not installed (apt-get install python3-torch)';
}

/** The benchmark's recipe: an equal-weight linear soup of `paths` into BF16. */
function linearRecipe(paths: string[]): string {
  return `merge_method: linear\nmodels:\n${paths.map((p) => `  - model: ${p}\n    parameters:\n      weight: 1\n`).join('')}dtype: bfloat16\n`;
}

/** The middle value (the mean of the two middle ones for an even count). */
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** `souplab merge` beside this bundle, or undefined when the CLI bundle is absent. */
function cliScript(): string | undefined {
  const url = new URL('./cli.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? fileURLToPath(url) : undefined;
}

/** CPU seconds (user + system) of this process's waited-for children, from /proc (Linux; 0 elsewhere). */
function childrenCpuSeconds(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** One `souplab merge recipe --out outPath --backend cpu --quiet`: its wall time, spawn to exit, and its CPU time. */
function timedCli(cli: string, recipe: string, outPath: string): { seconds: number; cpuSeconds: number } {
  const c0 = childrenCpuSeconds();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'merge', recipe, '--out', outPath, '--backend', 'cpu', '--quiet'], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`souplab merge failed (${r.status}): ${r.stderr.trim()}`);
  return { seconds, cpuSeconds: childrenCpuSeconds() - c0 };
}

/** `work`'s wall time and this process's CPU time meanwhile (every thread). */
async function timedCpu(work: () => Promise<number>): Promise<{ seconds: number; cpuSeconds: number }> {
  const c0 = process.cpuUsage();
  const seconds = await work();
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** Tuning knobs for experiments (SOUPLAB_BENCH_JOB_MB, SOUPLAB_BENCH_IN_FLIGHT); the defaults are runMerge's. */
const tuning = {
  maxJobBytes: process.env.SOUPLAB_BENCH_JOB_MB ? Number(process.env.SOUPLAB_BENCH_JOB_MB) * 2 ** 20 : undefined,
  maxJobsInFlight: process.env.SOUPLAB_BENCH_IN_FLIGHT ? Number(process.env.SOUPLAB_BENCH_IN_FLIGHT) : undefined,
};

export const mergeBenchmark: Benchmark = {
  name: 'merge',
  description: `linear soup of 3 generated BF16 checkpoints × ${process.env.SOUPLAB_BENCH_MERGE_MB ?? 320} MB on disk, per backend, vs the I/O ceiling and a mergekit-style PyTorch merge (targets: CPU ≤ ${RATIO_TARGET}× ceiling, ≤ ${TORCH_FACTOR_TARGET}× PyTorch, peak RSS ≤ ${RSS_TARGET_MB} MB)`,
  async run() {
    const mb = Math.max(300, Number(process.env.SOUPLAB_BENCH_MERGE_MB ?? '320'));
    const root = await benchScratch('souplab-bench-merge-', mb);
    if (!root) return false;
    let ok = true;
    const opened: NodeCheckpoint[] = [];
    try {
      // Inputs, large and a third of the size.
      const { paths, smallPaths, seconds: generateSeconds } = await generateInputs(root, mb);
      const plan = await planRecipe(linearRecipe(paths), 'bench.yaml', paths, opened);
      const inputMb = plan.inputBytes / 1e6;
      console.log(`  inputs       3 × ${(plan.inputBytes / 3 / 1e6).toFixed(0)} MB BF16, ${plan.steps.length} tensors each (generated in ${generateSeconds.toFixed(1)} s, in ${tmpdir()}; the files sit in the page cache for every run below)`);

      // The ceiling, the no-op merge and the CPU merge, interleaved over a few rounds, best time of
      // each: on a shared machine a neighbour's burst then hits all three alike.
      const rounds = Math.max(1, Number(process.env.SOUPLAB_BENCH_MERGE_ROUNDS ?? '5'));
      const smallPlan = await planRecipe(linearRecipe(smallPaths), 'bench.yaml', smallPaths, opened);
      const scratch = join(root, 'out.safetensors');
      // The orchestration alone: a backend that returns its first input (no arithmetic).
      const passThrough: SoupBackend = {
        kind: 'cpu',
        description: 'no-op',
        maxChunkElements: 32 << 20,
        run: async (job) => job.inputs[0].bytes,
        dispose: async () => undefined,
      };
      const cpu = createNodeCpuBackend();
      const cli = cliScript();
      const recipePath = join(root, 'bench.yaml');
      await writeFile(recipePath, linearRecipe(paths));
      // Per round: the ceiling, the in-process merge and the CLI, for ratios within one round.
      const baselineCli = process.env.SOUPLAB_BENCH_MERGE_CLI_BASELINE;
      const perRound: { ceiling: number; ceilingCpu: number; flushedCeiling: number; merge: number; cli: number; cliCpu: number; baseline: number; baselineCpu: number; load: number }[] = [];
      let cliExact = true;
      let ceiling = Infinity;
      let smallCeiling = Infinity;
      let nop = { seconds: Infinity, peakMb: 0 };
      let full = { seconds: Infinity, peakMb: 0 };
      let third = { seconds: Infinity, peakMb: 0 };
      let exact = true;
      const best = (a: { seconds: number; peakMb: number }, b: { seconds: number; peakMb: number }) => ({ seconds: Math.min(a.seconds, b.seconds), peakMb: Math.max(a.peakMb, b.peakMb) });
      try {
        for (let round = 0; round < rounds; round++) {
          const load = loadavg()[0];
          const { seconds: roundCeiling, cpuSeconds: ceilingCpu } = await timedCpu(() => durableCeiling(paths, plan.outputBytes, scratch));
          ceiling = Math.min(ceiling, roundCeiling);
          await rm(scratch, { force: true });
          const flushedCeiling = await durableCeiling(paths, plan.outputBytes, scratch, EARLY_FLUSH_BYTES);
          await rm(scratch, { force: true });
          nop = best(nop, await timedMerge(plan, passThrough, scratch, tuning));
          await rm(scratch, { force: true });
          const merged = await timedMerge(plan, cpu, scratch, tuning);
          full = best(full, merged);
          if (round === 0) exact = await spotCheck(plan, scratch);
          await rm(scratch, { force: true });
          let cliSeconds = NaN;
          let cliCpu = NaN;
          if (cli) {
            ({ seconds: cliSeconds, cpuSeconds: cliCpu } = timedCli(cli, recipePath, scratch));
            if (round === 0) cliExact = await spotCheck(plan, scratch);
            await rm(scratch, { force: true });
          }
          let baselineSeconds = NaN;
          let baselineCpu = NaN;
          if (baselineCli) {
            ({ seconds: baselineSeconds, cpuSeconds: baselineCpu } = timedCli(baselineCli, recipePath, scratch));
            await rm(scratch, { force: true });
          }
          perRound.push({ ceiling: roundCeiling, ceilingCpu, flushedCeiling, merge: merged.seconds, cli: cliSeconds, cliCpu, baseline: baselineSeconds, baselineCpu, load });
          smallCeiling = Math.min(smallCeiling, await durableCeiling(smallPaths, smallPlan.outputBytes, scratch));
          await rm(scratch, { force: true });
          third = best(third, await timedMerge(smallPlan, cpu, scratch, tuning));
          await rm(scratch, { force: true });
        }
      } finally {
        await cpu.dispose();
      }
      const cpuSeconds = full.seconds;
      const ratio = full.seconds / ceiling;
      const pass = ratio <= RATIO_TARGET && full.peakMb <= RSS_TARGET_MB && third.peakMb <= RSS_TARGET_MB && exact;
      ok &&= pass;
      console.log(`  (best of ${rounds} interleaved rounds unless said; peak RSS is the highest seen; load average ${perRound.map((r) => r.load.toFixed(1)).join(' / ')} at the rounds' starts)`);
      console.log(`  I/O ceiling  read the ${inputMb.toFixed(0)} MB of input files + write ${(plan.outputBytes / 1e6).toFixed(0)} MB and fsync, reused buffers: ${ceiling.toFixed(2)} s = ${(inputMb / ceiling / 1e3).toFixed(2)} GB/s of input`);
      console.log(`  no-op merge  runMerge with a backend that returns its first input: ${nop.seconds.toFixed(2)} s, ${(nop.seconds / ceiling).toFixed(2)}× the ceiling (the orchestration and I/O alone), peak RSS ${nop.peakMb.toFixed(0)} MB`);
      console.log(
        `  cpu          ${cpu.description}: ${full.seconds.toFixed(2)} s = ${(inputMb / full.seconds / 1e3).toFixed(2)} GB/s of input, ${ratio.toFixed(2)}× the ceiling (target ≤ ${RATIO_TARGET}), peak RSS ${full.peakMb.toFixed(0)} MB (target ≤ ${RSS_TARGET_MB}), spot check vs reference ${exact ? 'exact' : 'MISMATCH'} ${pass ? 'PASS' : 'FAIL'}`,
      );
      const mergeRatios = perRound.map((r) => r.merge / r.ceiling);
      console.log(`  cpu, rounds  merge ÷ that round's ceiling: ${mergeRatios.map((x) => x.toFixed(2)).join(' / ')}, median ${median(mergeRatios).toFixed(2)}×`);
      if (cli) {
        const cliRatios = perRound.map((r) => r.cli / r.ceiling);
        const cliRatio = median(cliRatios);
        const cliPass = cliRatio <= CLI_RATIO_TARGET && cliExact;
        ok &&= cliPass;
        console.log(
          `  souplab merge --backend cpu, spawn to exit: ${perRound.map((r) => r.cli.toFixed(2)).join(' / ')} s; ÷ that round's ceiling (${perRound.map((r) => r.ceiling.toFixed(2)).join(' / ')} s): ${cliRatios.map((x) => x.toFixed(2)).join(' / ')}, median ${cliRatio.toFixed(2)}× (target ≤ ${CLI_RATIO_TARGET}), spot check ${cliExact ? 'exact' : 'MISMATCH'} ${cliPass ? 'PASS' : 'FAIL'}`,
        );
        // The merge flushes its output early (fileTargets.ts); the same I/O done that way, for fairness.
        const flushed = perRound.map((r) => r.cli / r.flushedCeiling);
        console.log(`  its CPU time (user + system, every thread) ${perRound.map((r) => r.cliCpu.toFixed(2)).join(' / ')} s, the ceiling's ${perRound.map((r) => r.ceilingCpu.toFixed(2)).join(' / ')} s: median ratio ${median(perRound.map((r) => r.cliCpu / r.ceilingCpu)).toFixed(2)}×`);
        console.log(
          `  the same ÷ a ceiling that flushes early as the merge does (${perRound.map((r) => r.flushedCeiling.toFixed(2)).join(' / ')} s): ${flushed.map((x) => x.toFixed(2)).join(' / ')}, median ${median(flushed).toFixed(2)}×`,
        );
      } else console.log('  souplab merge: skipped (no cli.js beside this bundle: npm run build:cli)');
      if (baselineCli) {
        const ratios = perRound.map((r) => r.baseline / r.ceiling);
        console.log(`  baseline     ${baselineCli}, the same rounds: ${perRound.map((r) => r.baseline.toFixed(2)).join(' / ')} s; ÷ the ceiling: ${ratios.map((x) => x.toFixed(2)).join(' / ')}, median ${median(ratios).toFixed(2)}×; CPU ${perRound.map((r) => r.baselineCpu.toFixed(2)).join(' / ')} s, median ratio ${median(perRound.map((r) => r.baselineCpu / r.ceilingCpu)).toFixed(2)}×`);
      }
      console.log(
        `  cpu, ⅓ size  3 × ${(smallPlan.inputBytes / 3 / 1e6).toFixed(0)} MB: ${third.seconds.toFixed(2)} s, ${(third.seconds / smallCeiling).toFixed(2)}× its ceiling of ${smallCeiling.toFixed(2)} s, peak RSS ${third.peakMb.toFixed(0)} MB (vs ${full.peakMb.toFixed(0)} MB at full size: flat)`,
      );

      // WebGPU, where an adapter exists (SwiftShader here: correctness only, its speed says nothing of a GPU).
      const { gpu, software } = wantBackend('webgpu') ? await openGpuSoupBackend() : { gpu: undefined, software: false };
      if (gpu) {
        try {
          // A software adapter merges ~100× slower than the CPU path: measured on the ⅓-size inputs.
          const gpuPlan = software ? smallPlan : plan;
          const gpuCeiling = software ? smallCeiling : ceiling;
          const out = join(root, 'merged-gpu.safetensors');
          const r = await timedMerge(gpuPlan, gpu, out, tuning);
          const exact = await spotCheck(gpuPlan, out);
          await rm(out, { force: true });
          const gpuMb = gpuPlan.inputBytes / 1e6;
          console.log(
            `  webgpu       ${gpu.description}${software ? ', ⅓-size inputs (a software adapter)' : ''}: ${r.seconds.toFixed(2)} s = ${(gpuMb / r.seconds / 1e3).toFixed(2)} GB/s of input, ${(r.seconds / gpuCeiling).toFixed(2)}× the ceiling, peak RSS ${r.peakMb.toFixed(0)} MB, spot check vs reference ${exact ? 'exact' : 'differs (≤ 1 ulp allowed)'} (reported; no target off a real GPU)`,
          );
        } finally {
          await gpu.dispose();
        }
      }

      // PyTorch, the way mergekit merges.
      const missing = torchAvailable();
      if (missing) {
        console.log(`  pytorch      skipped: ${missing}`);
      } else {
        const script = join(root, 'mergekit_like.py');
        await writeFile(script, TORCH_SCRIPT);
        const out = join(root, 'merged-torch.safetensors');
        // torch's own thread count (what mergekit gets), and every core (the strongest baseline).
        let best = Infinity;
        for (const threads of [undefined, String(availableParallelism())]) {
          const t0 = performance.now();
          const r = spawnSync(PYTHON, [script, ...paths, out], { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, ...(threads ? { SOUPLAB_TORCH_THREADS: threads } : {}) } });
          const wall = (performance.now() - t0) / 1000;
          await rm(out, { force: true });
          if (r.status !== 0) {
            console.log(`  pytorch      failed: ${r.stderr.split('\n').filter(Boolean).slice(-1)[0]}`);
            ok = false;
            break;
          }
          const t = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { seconds: number; import_seconds: number; threads: number; version: string; peak_rss_mb: number };
          best = Math.min(best, t.seconds);
          console.log(
            `  pytorch      torch ${t.version}, ${t.threads} thread${t.threads > 1 ? 's' : ''}${threads ? ' (set)' : ' (default)'}: ${t.seconds.toFixed(2)} s merging and writing, no fsync (+ ${t.import_seconds.toFixed(1)} s import; ${wall.toFixed(1)} s wall), peak RSS ${t.peak_rss_mb.toFixed(0)} MB`,
          );
        }
        if (Number.isFinite(best)) {
          const factor = cpuSeconds / best;
          const pass = factor <= TORCH_FACTOR_TARGET;
          ok &&= pass;
          console.log(`  vs pytorch   SoupLab CPU takes ${factor.toFixed(2)}× the faster PyTorch run (target ≤ ${TORCH_FACTOR_TARGET}) ${pass ? 'PASS' : 'FAIL'}`);
        }
      }
    } finally {
      await Promise.all(opened.map((c) => c.close()));
      await rm(root, { recursive: true, force: true });
    }
    return ok;
  },
};
