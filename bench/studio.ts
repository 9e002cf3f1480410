/**
 * `npm run bench -- studio`: the studio's merge against the CLI's on the same files (issue 12 §3).
 * Generates 3 BF16 checkpoints per size (SOUPLAB_BENCH_STUDIO_MB, default "200,600" MB per model),
 * merges them with `souplab merge --backend cpu` (the built CLI, a child process) and in the built
 * studio (dist/app, served by `vite preview`) in Debian's Chromium driven by playwright-core: files
 * given to the page's file input (disk-backed Files, as picked ones), CPU path, output into browser
 * storage. Both timings are wall clock for the whole merge, best of SOUPLAB_BENCH_STUDIO_ROUNDS (2),
 * interleaved; the studio's from the click on Merge, a second after the last choice on the page (as a
 * person clicks), to "Verified". Prints the studio's speed as a ratio of the CLI's (target: ≥ 0.8 at
 * every size), and what Chromium's reading of the same files costs alone, in time and in CPU.
 *
 * Needs `npm run build` first (the studio) and Chromium (CHROMIUM_PATH or /usr/bin/chromium).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { preview } from 'vite';
import { generate, layout } from './mergeSetup';
import type { Benchmark } from './registry';

const RATIO_TARGET = 0.8;
/**
 * Another build of the studio (a folder like dist/app, e.g. main's before a change) merged in every
 * round beside this one: on a busy machine, A/B in the same rounds is the comparison that holds.
 */
const BASELINE_APP = process.env.SOUPLAB_BENCH_STUDIO_BASELINE;
const INCOGNITO = process.env.SOUPLAB_BENCH_STUDIO_INCOGNITO === '1';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface Timing {
  /** Wall clock. */
  seconds: number;
  /** CPU time (user + system) of every process involved: on a busy machine the steadier measure. */
  cpuSeconds: number;
  /** The studio's CPU seconds per Chromium process role. */
  byRole?: Map<string, number>;
  /** … and per thread (role/thread name). */
  byThread?: Map<string, number>;
}

const TICK = 100; // USER_HZ on Linux

/** user + system seconds of a process, and of its waited-for children when `children`. */
function procCpu(pid: number | 'self', children = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After "pid (comm) ": state is field 0; utime 11, stime 12, cutime 13, cstime 14.
    const own = Number(fields[11]) + Number(fields[12]);
    return (children ? Number(fields[13]) + Number(fields[14]) : own) / TICK;
  } catch {
    return 0;
  }
}

/** Chromium's role for a process: its --type= switch (renderer, gpu-process, utility…), or "browser". */
function roleOf(pid: number): string {
  try {
    // Zygote-forked children rewrite their title into one string: split on spaces too.
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
    const type = args.find((a) => a.startsWith('--type='))?.slice('--type='.length);
    if (type) return type === 'utility' ? `utility ${args.find((a) => a.startsWith('--utility-sub-type='))?.split('.').pop() ?? ''}`.trim() : type;
    return /chrom/i.test(args[0] ?? '') ? 'browser' : (args[0]?.split('/').pop() ?? String(pid));
  } catch {
    return 'gone';
  }
}

/** Every live descendant process of this one. */
function descendants(): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return [...parent.keys()].filter((pid) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  });
}

/**
 * Samples the CPU time of every thread of Chromium's processes while a merge runs, so that threads that
 * end before it does (the merge's workers) are counted too: CPU seconds per "role/thread name".
 */
class ThreadSampler {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, { key: string; cpu: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 200);
  }

  private sample(initial: boolean): void {
    for (const pid of descendants()) {
      const role = roleOf(pid);
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
          const cpu = (Number(f[11]) + Number(f[12])) / TICK;
          const id = `${pid}/${tid}`;
          if (initial) this.first.set(id, cpu);
          else if (!this.first.has(id) && !this.last.has(id)) this.first.set(id, 0);
          // Each web worker apart (the merge worker, the soup workers): they share one thread name.
          this.last.set(id, { key: `${role}/${name}${name === 'DedicatedWorker' ? ` ${tid}` : ''}`, cpu });
        } catch {
          // ended meanwhile
        }
      }
    }
  }

  stop(): Map<string, number> {
    clearInterval(this.timer);
    this.sample(false);
    const out = new Map<string, number>();
    for (const [id, { key, cpu }] of this.last) out.set(key, (out.get(key) ?? 0) + cpu - (this.first.get(id) ?? 0));
    return out;
  }
}

/** CPU seconds of every live descendant of this process (Chromium's browser, renderer, GPU and utility processes), by role. */
function descendantsCpu(): Map<string, number> {
  const byRole = new Map<string, number>();
  for (const pid of descendants()) {
    const role = roleOf(pid);
    byRole.set(role, (byRole.get(role) ?? 0) + procCpu(pid));
  }
  return byRole;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** CPU seconds per role spent between two descendantsCpu() samples (processes that ended meanwhile are lost). */
function cpuSince(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [role, s] of after) out.set(role, s - (before.get(role) ?? 0));
  return out;
}

function cliMerge(recipe: string, out: string): Timing {
  const c0 = procCpu('self', true);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [resolve('dist/node/cli.js'), 'merge', recipe, '--out', out, '--backend', 'cpu', '--quiet'], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`souplab merge failed: ${r.stderr.trim()}`);
  return { seconds, cpuSeconds: procCpu('self', true) - c0 };
}

/**
 * Loads the files into a fresh studio and merges on the CPU into browser storage; from the click to
 * "Verified". By default in a fresh browser profile of its own, as a user's browser is; with
 * SOUPLAB_BENCH_STUDIO_INCOGNITO=1 in a new context of one browser, which Chromium treats as an
 * incognito window: there OPFS lives in the browser process's memory and every write of the output
 * goes through it (several seconds of CPU per 256 MB written, measured).
 */
async function studioMerge(baseURL: string, paths: string[]): Promise<Timing> {
  const contextOptions = { baseURL, viewport: { width: 1280, height: 800 } };
  if (INCOGNITO) {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      return await studioMergeIn(await (await browser.newContext(contextOptions)).newPage(), paths);
    } finally {
      await browser.close();
    }
  }
  const profile = await mkdtemp(join(tmpdir(), 'souplab-bench-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...contextOptions });
    try {
      return await studioMergeIn(context.pages()[0] ?? (await context.newPage()), paths);
    } finally {
      await context.close();
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

async function studioMergeIn(page: Page, paths: string[]): Promise<Timing> {
  await page.goto('/');
  if (!(await page.evaluate(() => crossOriginIsolated))) console.log('  note: the studio is not cross-origin isolated here: its merge copies between threads');
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  const remove = page.getByRole('button', { name: 'Remove all' });
  await page.getByRole('article').first().waitFor({ timeout: 30_000 });
  await remove.click();
  await page.locator('input[accept=".safetensors,.json"]').setInputFiles(paths);
  await page.getByText('Headers fit together').waitFor({ timeout: 60_000 });
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.getByRole('radio', { name: /Browser storage/ }).check();
  // A moment on the page, as a person takes before clicking Merge: the studio prepares the merge's
  // workers meanwhile (mergeClient's prepareMerge), as the CLI's time starts with a process to start.
  await page.waitForTimeout(1000);
  const c0 = descendantsCpu();
  const threads = new ThreadSampler();
  const t0 = performance.now();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await page.getByText(/^Verified: /).waitFor({ timeout: 600_000 });
  const seconds = (performance.now() - t0) / 1000;
  const byRole = cpuSince(c0, descendantsCpu());
  return { seconds, cpuSeconds: sum(byRole), byRole, byThread: threads.stop() };
}

/**
 * What Chromium itself allows: the same files read in a dedicated worker through Blob streams into a
 * reused buffer, as the studio's merge reads them (browserSources.ts), with `lanes` streams per file
 * over contiguous parts. Nothing else happens: the studio's merge cannot be faster than one lane.
 */
async function browserRead(baseURL: string, paths: string[], lanes: number): Promise<Timing> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext({ baseURL })).newPage();
    await page.route('**/__read-ceiling', (route) => route.fulfill({ contentType: 'text/html', body: '<input type="file" multiple>' }));
    await page.goto('/__read-ceiling');
    await page.locator('input').setInputFiles(paths);
    const c0 = descendantsCpu();
    const seconds = await page.evaluate(async (lanes) => {
      const code = `onmessage = async (e) => {
        const t0 = performance.now();
        await Promise.all(e.data.files.flatMap((f) => Array.from({ length: e.data.lanes }, async (_, k) => {
          const part = Math.ceil(f.size / e.data.lanes);
          const reader = f.slice(k * part, Math.min(f.size, (k + 1) * part)).stream().getReader({ mode: 'byob' });
          let buffer = new ArrayBuffer(4 << 20);
          for (;;) {
            const { done, value } = await reader.read(new Uint8Array(buffer));
            if (value) buffer = value.buffer;
            if (done) break;
          }
        })));
        postMessage((performance.now() - t0) / 1000);
      };`;
      const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
      const files = [...(document.querySelector('input') as HTMLInputElement).files!];
      return new Promise<number>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<number>) => resolve(e.data);
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage({ files, lanes });
      });
    }, lanes);
    return { seconds, cpuSeconds: sum(cpuSince(c0, descendantsCpu())) };
  } finally {
    await browser.close();
  }
}

export const studioBenchmark: Benchmark = {
  name: 'studio',
  description: `the studio's CPU merge in Chromium (into browser storage) vs \`souplab merge\` on the same 3 BF16 checkpoints, at ${process.env.SOUPLAB_BENCH_STUDIO_MB ?? '200,600'} MB per model (target: studio speed ≥ ${RATIO_TARGET} × the CLI's)`,
  async run() {
    if (!existsSync('dist/app/index.html')) {
      console.log('  skipped: the studio is not built (npm run build)');
      return false;
    }
    if (!existsSync(CHROMIUM)) {
      console.log(`  skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);
      return false;
    }
    const sizes = (process.env.SOUPLAB_BENCH_STUDIO_MB ?? '200,600').split(',').map(Number).filter((n) => n > 0);
    const rounds = Math.max(1, Number(process.env.SOUPLAB_BENCH_STUDIO_ROUNDS ?? '2'));
    const root = await mkdtemp(join(tmpdir(), 'souplab-bench-studio-'));
    const free = await statfs(root).then((s) => s.bavail * s.bsize).catch(() => Infinity);
    if (free < Math.max(...sizes) * 1e6 * 5) {
      console.log(`  not enough space in ${tmpdir()}: ${(free / 1e6).toFixed(0)} MB free`);
      await rm(root, { recursive: true, force: true });
      return false;
    }
    const port = Number(process.env.SOUPLAB_BENCH_PORT ?? 4390);
    const server = await preview({ configFile: resolve('vite.config.ts'), logLevel: 'silent', preview: { port, strictPort: true } });
    const baselineServer = BASELINE_APP
      ? await preview({ configFile: resolve('vite.config.ts'), logLevel: 'silent', build: { outDir: resolve(BASELINE_APP) }, preview: { port: port + 1, strictPort: true } })
      : undefined;
    let baselineSeconds = Infinity;
    let ok = true;
    try {
      for (const mb of sizes) {
        const specs = layout(mb);
        const paths = [0, 1, 2].map((k) => join(root, `model-${mb}-${k}.safetensors`));
        for (const [k, p] of paths.entries()) await generate(p, specs, 31 + k);
        const recipe = join(root, `recipe-${mb}.yaml`);
        await writeFile(recipe, `merge_method: linear\nmodels:\n${paths.map((p) => `  - model: ${p}\n    parameters:\n      weight: 1\n`).join('')}dtype: bfloat16\n`);
        const bytes = specs.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * 2, 0);
        const best = (a: Timing, b: Timing): Timing => ({ seconds: Math.min(a.seconds, b.seconds), cpuSeconds: Math.min(a.cpuSeconds, b.cpuSeconds) });
        let cli: Timing = { seconds: Infinity, cpuSeconds: Infinity };
        let studio: Timing = { seconds: Infinity, cpuSeconds: Infinity };
        let readOne: Timing = { seconds: Infinity, cpuSeconds: Infinity };
        let readTwo: Timing = { seconds: Infinity, cpuSeconds: Infinity };
        try {
          for (let r = 0; r < rounds; r++) {
            const out = join(root, 'cli-out.safetensors');
            const cliRound = cliMerge(recipe, out);
            cli = best(cli, cliRound);
            await rm(out, { force: true });
            const round = await studioMerge(`http://localhost:${port}`, paths);
            studio = best(studio, round);
            if (baselineServer) {
              const base = await studioMerge(`http://localhost:${port + 1}`, paths);
              baselineSeconds = Math.min(baselineSeconds, base.seconds);
              console.log(`    round ${r + 1}: baseline studio (${BASELINE_APP}) ${base.seconds.toFixed(2)} s / ${base.cpuSeconds.toFixed(2)} s CPU`);
            }
            readOne = best(readOne, await browserRead(`http://localhost:${port}`, paths, 1));
            readTwo = best(readTwo, await browserRead(`http://localhost:${port}`, paths, 2));
            const top = (m: Map<string, number> | undefined, n: number) =>
              [...(m ?? [])]
                .filter(([, v]) => v >= 0.05)
                .sort((a, b) => b[1] - a[1])
                .slice(0, n)
                .map(([k, v]) => `${k} ${v.toFixed(2)}`)
                .join(', ');
            console.log(
              `    round ${r + 1} (load ${loadavg()[0].toFixed(1)}): CLI ${cliRound.seconds.toFixed(2)} s / ${cliRound.cpuSeconds.toFixed(2)} s CPU; studio ${round.seconds.toFixed(2)} s / ${round.cpuSeconds.toFixed(2)} s CPU (${top(round.byRole, 6)})\n      threads: ${top(round.byThread, 8)}`,
            );
          }
        } finally {
          for (const p of paths) await rm(p, { force: true });
        }
        const ratio = cli.seconds / studio.seconds;
        const pass = ratio >= RATIO_TARGET;
        ok &&= pass;
        console.log(
          `  3 × ${(bytes / 1e6).toFixed(0)} MB  CLI ${cli.seconds.toFixed(2)} s (${cli.cpuSeconds.toFixed(2)} s CPU), studio ${studio.seconds.toFixed(2)} s (${studio.cpuSeconds.toFixed(2)} s CPU in Chromium's processes, ${((3 * bytes) / studio.seconds / 1e9).toFixed(2)} GB/s of input): studio speed ${ratio.toFixed(2)} × the CLI's (target ≥ ${RATIO_TARGET}) ${pass ? 'PASS' : 'FAIL'}; by CPU time ${(cli.cpuSeconds / studio.cpuSeconds).toFixed(2)} ×`,
        );
        if (baselineServer) console.log(`    baseline studio ${baselineSeconds.toFixed(2)} s: this build is ${(baselineSeconds / studio.seconds).toFixed(2)} × as fast`);
        baselineSeconds = Infinity;
        console.log(
          `    Chromium alone reading the 3 files in a worker through Blob streams (nothing else): ${readOne.seconds.toFixed(2)} s with one stream per file as the studio reads (${((3 * bytes) / readOne.seconds / 1e9).toFixed(2)} GB/s; = ${(cli.seconds / readOne.seconds).toFixed(2)} × the CLI's merge time as the best the studio could reach), ${readTwo.seconds.toFixed(2)} s with two; that reading alone costs ${readOne.cpuSeconds.toFixed(2)} s of CPU in Chromium's processes (the CLI's whole merge: ${cli.cpuSeconds.toFixed(2)} s) — on ${cpus().length} cores, ${(readOne.cpuSeconds / cpus().length).toFixed(2)} s of wall clock at the least`,
        );
      }
    } finally {
      await new Promise<void>((res) => server.httpServer.close(() => res()));
      if (baselineServer) await new Promise<void>((res) => baselineServer.httpServer.close(() => res()));
      await rm(root, { recursive: true, force: true });
    }
    return ok;
  },
};
