import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../../errors';
import { METHOD_NAMES } from '../../merge/methods/registry';
import { PreflightError, type PreflightReport } from '../../merge/preflight';
import { runRecipe, type RunRecipeResult } from '../../merge/runRecipe';
import type { MergeProgress } from '../../merge/runMerge';
import { createNodeCpuBackend, DEFAULT_MAX_CPU_WORKERS } from '../../node/cpuWorkers';
import { nodeFileSource } from '../../node/fileSource';
import { nodeFileTarget, nodeFolderTarget } from '../../node/fileTargets';
import type { AdaptedCheckpoint } from '../../formats/lora/adaptedCheckpoint';
import type { Checkpoint } from '../../formats/checkpoint';
import { parseArgs, UsageError, type CliIO, type Command } from '../io';
import { formatBytes } from '../../util/bytes';
import { chooseBackend, cpuChosenUpFront, DEFAULT_SHARD_BYTES, openRecipeModel, refuseOverwritingInputs, refuseSameModelTwice, type OpenedModel } from '../recipeModels';
import { isGgufPath, parseGgufType } from '../ggufOutput';

/** "5GB", "500MB", "2GiB", "1000000" → bytes (GB = 10⁹ as Hugging Face counts; GiB = 2³⁰). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--shard-size must be a size such as 5GB, 500MB or 2GiB, got '${text}'`);
  const unit = (m[2] ?? 'b').toLowerCase().replace(/b$/, '');
  const powers: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };
  const bytes = Math.floor(Number(m[1]) * powers[unit]);
  if (!(bytes >= 1)) throw new UsageError(`--shard-size must be at least 1 byte, got '${text}'`);
  return bytes;
}

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'merge checkpoints by a mergekit recipe (linear, ties, slerp, … every weights-only method) on WebGPU or the CPU',
  usage: [
    'souplab merge <recipe.yaml> --out <file.safetensors | folder | file.gguf> [--backend webgpu|cpu] [--shard-size 5GB]\n' +
      '              [--gguf-type f32|f16|bf16|q8_0] [--threads N] [--quiet]',
    '',
    'Runs a mergekit recipe (model paths relative to the recipe). Methods:',
    `  ${METHOD_NAMES.join(', ')}`,
    'Checks every header first and starts',
    'only when the models fit together; writes all or nothing, then re-reads the written headers.',
    '  --out         a .safetensors file, or a folder: the model (sharded when large), recipe.yaml and the',
    "                base model's config.json, generation_config.json and tokenizer files; or a .gguf file for",
    '                llama.cpp, Ollama, LM Studio (Llama, Mistral, Qwen2, Qwen3 with a byte-level BPE tokenizer)',
    '  --backend     webgpu or cpu (default: WebGPU when a hardware adapter exists, else the CPU)',
    '  --shard-size  largest shard of a folder output (default 5GB; GB = 10^9 bytes, GiB = 2^30)',
    "  --gguf-type   the weights of a .gguf output (default: the soup's own f32/bf16/f16); norms stay f32",
    `  --threads     CPU worker threads (default: the cores this process may use, at most ${DEFAULT_MAX_CPU_WORKERS})`,
    '  --quiet       no progress, notes or summary; errors only',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, { booleans: ['quiet'], values: ['out', 'backend', 'shard-size', 'gguf-type', 'threads'] });
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'give a recipe file (mergekit YAML)' : `expected one recipe file, got ${positionals.length} arguments`);
    }
    const outArg = flags.get('out');
    if (typeof outArg !== 'string' || outArg === '') throw new UsageError('--out is required: a .safetensors file, a folder or a .gguf file');
    const backendArg = flags.get('backend');
    if (backendArg !== undefined && backendArg !== 'webgpu' && backendArg !== 'cpu') {
      throw new UsageError(`--backend must be webgpu or cpu, got '${String(backendArg)}'`);
    }
    const threads = parseThreads(flags.get('threads'));
    const quiet = flags.has('quiet');
    const say = (line: string) => {
      if (!quiet) io.stderr(`${line}\n`);
    };

    // The recipe.
    const recipePath = resolve(positionals[0]);
    const recipeName = positionals[0];
    let text: string;
    try {
      text = await readFile(recipePath, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`${recipeName}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a recipe file' : (e as Error).message}`);
    }

    // The output.
    const outPath = resolve(outArg);
    const outStat = await stat(outPath).catch(() => undefined);
    const toGguf = isGgufPath(outPath) && !outStat?.isDirectory();
    const ggufType = parseGgufType(flags.get('gguf-type'), toGguf);
    const toFile = outStat ? !outStat.isDirectory() : /\.safetensors$/i.test(outPath) || toGguf;
    if (toFile && !/\.safetensors$/i.test(outPath) && !toGguf) {
      throw new UsageError(`--out ${outArg} is an existing file that is neither .safetensors nor .gguf; give a .safetensors or .gguf file, or a folder`);
    }
    const shardArg = flags.get('shard-size');
    if (shardArg !== undefined && toFile) throw new UsageError('--shard-size applies to a folder output; --out names a single .safetensors file');
    const maxShardBytes = toFile ? Infinity : typeof shardArg === 'string' ? parseSize(shardArg) : DEFAULT_SHARD_BYTES;

    const opened: OpenedModel[] = [];
    const progress = quiet || !io.stderrIsTTY ? undefined : progressLine(io);
    // Where the CPU will merge whatever the recipe says, its worker threads start now, while the recipe
    // is read and planned: each takes tens of milliseconds of a core to start (issue 22 §4).
    let early = cpuChosenUpFront(backendArg) ? createNodeCpuBackend({ workers: threads }) : undefined;
    early?.warm?.();
    let run: RunRecipeResult;
    try {
      run = await runRecipe({
        text,
        fileName: recipeName,
        openModel: async (ref, recipe) => {
          const m = await openRecipeModel(recipe, recipePath, ref);
          opened.push(m);
          return m.checkpoint;
        },
        beforeWrite: async (plan, warnings) => {
          for (const w of warnings) say(`warning: ${w}`);
          for (const m of opened) if (m.adapterPath !== undefined) say(`note: ${adapterNote(m.ref.path, m.checkpoint)}`);
          await refuseSameModelTwice(opened, plan.recipe);
          await refuseOverwritingInputs(outPath, toFile, opened, plan.recipe);
          printReport(io, plan.preflight, quiet);
        },
        backend: () => {
          // From here runRecipe owns it (and disposes it).
          const handed = early;
          early = undefined;
          return chooseBackend(backendArg, say, threads, handed);
        },
        target: toFile ? nodeFileTarget(outPath) : nodeFolderTarget(outPath),
        folder: !toFile,
        // general.name is the file's name, as the studio names its GGUF after the file it writes.
        gguf: toGguf ? { fileName: basename(outPath), name: basename(outPath).replace(/\.gguf$/i, ''), type: ggufType } : undefined,
        maxShardBytes,
        // No absolute path of this machine goes into the model's metadata: the paths stay as the recipe wrote them.
        recipeComment: `made by souplab merge from ${basename(recipePath)}; model paths are relative to that recipe's folder`,
        readBack: (name) => nodeFileSource(toFile ? outPath : join(outPath, name), name),
        signal: io.signal,
        onProgress: progress && ((p) => progress.update(p, toGguf ? 'writing GGUF' : 'merging')),
      });
    } catch (e) {
      if (e instanceof PreflightError && e.report.errors.length > 1) {
        printReport(io, e.report, quiet);
        io.stderr(`souplab merge: the pre-flight check found ${e.report.errors.length} problems; nothing was read or written\n`);
        return 2;
      }
      throw e;
    } finally {
      progress?.clear();
      await early?.dispose();
    }
    const { plan, result } = run;
    if (run.gguf) {
      if (!quiet) printGgufSummary(run, outArg, io);
      return result.verified ? 0 : 1;
    }
    if (!quiet) {
      const files = result.files.filter((f) => f.endsWith('.safetensors'));
      const merged = plan.steps.filter((s) => s.kind !== 'copy').length;
      io.stdout(
        [
          `merged ${plan.ingredients.length} models (${plan.recipe.method}) into ${outArg}`,
          `  tensors   ${plan.steps.length} (${merged} merged, ${plan.steps.length - merged} copied from ${plan.reference.label})`,
          `  written   ${formatBytes(plan.outputBytes)} in ${files.length} file${files.length > 1 ? 's' : ''}${run.extraFiles.length > 0 ? ` + ${run.extraFiles.join(', ')}` : ''}`,
          ...(run.randomSeed !== undefined ? [`  seed      ${run.randomSeed} (random_seed, recorded in the output)`] : []),
          // An iterative method's declared passes are an upper bound of what it read: no rate then.
          `  time      ${result.seconds.toFixed(1)} s${plan.inputBytesAtMost ? '' : `, ${formatBytes(plan.inputBytes / Math.max(result.seconds, 1e-9))}/s of input`}`,
          `  backend   ${run.backendDescription}`,
          `  verified  every written header re-read and checked`,
        ].join('\n') + '\n',
      );
    }
    return result.verified ? 0 : 1;
  },
};

/** What a GGUF output holds: tensors and their type, size, where the tokenizer came from. */
function printGgufSummary(run: RunRecipeResult, outArg: string, io: CliIO): void {
  const { plan, result } = run;
  const g = run.gguf!;
  const fallbacks = g.q8Fallbacks.length > 0 ? ` (${g.q8Fallbacks.length} with rows not divisible by 32 kept F16)` : '';
  for (const note of g.notes) io.stderr(`note: ${note}\n`);
  io.stdout(
    [
      plan.ingredients.length === 1 ? `converted ${plan.reference.label} into ${outArg}` : `merged ${plan.ingredients.length} models (${plan.recipe.method}) into ${outArg}`,
      `  tensors   ${result.tensors} as GGUF ${g.type}${fallbacks}; norms and biases F32`,
      `  written   ${formatBytes(result.bytesWritten)} in ${result.seconds.toFixed(1)} s`,
      `  model     ${g.architecture}, tokenizer and chat template from ${plan.reference.label}`,
      ...(run.randomSeed !== undefined ? [`  seed      ${run.randomSeed} (random_seed of the recipe's masks)`] : []),
      `  backend   ${run.backendDescription}`,
      `  verified  the written header re-read and checked`,
    ].join('\n') + '\n',
  );
}

/** What a base+adapter ingredient is: the adapter's kind and how many tensors it changes. */
function adapterNote(ref: string, checkpoint: Checkpoint): string {
  if (!('adapter' in checkpoint)) return `${ref}: a LoRA adapter on its base`;
  const { adapter, adaptedTensors } = checkpoint as AdaptedCheckpoint;
  const c = adapter.config;
  const kind = [`r ${c.r}`, `α ${c.loraAlpha}`, c.useRslora ? 'rsLoRA' : '', c.useDora ? 'DoRA' : '', c.fanInFanOut ? 'fan_in_fan_out' : ''].filter(Boolean).join(', ');
  return `${ref}: LoRA adapter (${kind}) merged into ${adaptedTensors.length} tensor${adaptedTensors.length === 1 ? '' : 's'} of its base as they are read (F32)`;
}

/** --threads N: a whole number of worker threads, 1 to 256. */
export function parseThreads(value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 256)) throw new UsageError(`--threads must be a whole number from 1 to 256, got '${String(value)}'`);
  return n;
}


function printReport(io: CliIO, report: PreflightReport, quiet: boolean): void {
  const shown = 20;
  report.errors.slice(0, shown).forEach((e) => io.stderr(`error: ${e.message}\n`));
  if (report.errors.length > shown) io.stderr(`error: … and ${report.errors.length - shown} more\n`);
  if (quiet) return;
  for (const w of report.warnings) io.stderr(`warning: ${w.message}\n`);
  for (const i of report.infos) io.stderr(`note: ${i.message}\n`);
}

/** One updating stderr line: tensors, bytes, MB/s, ETA; redrawn at most ten times a second. */
function progressLine(io: CliIO): { update: (p: Pick<MergeProgress, 'tensorsDone' | 'tensorsTotal' | 'bytesDone' | 'bytesTotal' | 'bytesPerSecond' | 'etaSeconds'>, label?: string) => void; clear: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update(p, label = 'merging') {
      const now = performance.now();
      if (now - last < 100 && p.tensorsDone < p.tensorsTotal) return;
      last = now;
      const eta = p.etaSeconds === undefined ? '--:--' : formatDuration(p.etaSeconds);
      const line = `${label} ${p.tensorsDone}/${p.tensorsTotal} tensors  ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}  ${formatBytes(p.bytesPerSecond)}/s  ETA ${eta}`;
      const width = (process.stderr.columns ?? 100) - 1;
      io.stderr(`\r${line.slice(0, width)}\x1b[K`);
      drawn = true;
    },
    clear() {
      if (drawn) io.stderr('\r\x1b[K');
    },
  };
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
