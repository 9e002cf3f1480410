import { readdirSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { InputError } from '../../errors';
import type { Checkpoint } from '../../formats/checkpoint';
import type { ByteSource } from '../../formats/types';
import { describeAdapter, requestAdapter } from '../../gpu/adapter';
import { createWebGPUSoupBackend } from '../../gpu/webgpuSoupBackend';
import type { SoupBackend } from '../../merge/kernel';
import { modelRefsOf, planMerge, type MergePlan } from '../../merge/plan';
import { PreflightError, type PreflightReport } from '../../merge/preflight';
import { parseRecipe, recipeToYaml, type ModelRef, type Recipe } from '../../merge/recipe';
import { runMerge, type MergeProgress, type ExtraOutputFile } from '../../merge/runMerge';
import { createNodeCpuBackend } from '../../node/cpuWorkers';
import { nodeFileSource } from '../../node/fileSource';
import { nodeFileTarget, nodeFolderTarget } from '../../node/fileTargets';
import { openCheckpointPath, type NodeCheckpoint } from '../../node/openCheckpointPath';
import { nodeGPU } from '../../node/webgpu';
import { parseArgs, UsageError, type CliIO, type Command } from '../io';
import { humanBytes } from './inspect';
import { carriedFiles } from '../../merge/carriedFiles';
import { convertSoupToGguf, ggufSoupPath, isGgufPath, parseGgufType, planGgufOutput, removeSoupFile, type GgufOutputPlan } from './mergeGguf';

const DEFAULT_SHARD_BYTES = 5e9;

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

interface OpenedModel {
  ref: ModelRef;
  path: string;
  checkpoint: NodeCheckpoint;
}

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'merge checkpoints by a mergekit recipe (linear, task_arithmetic) on WebGPU or the CPU',
  usage: [
    'souplab merge <recipe.yaml> --out <file.safetensors | folder | file.gguf> [--backend webgpu|cpu] [--shard-size 5GB]\n' +
      '              [--gguf-type f32|f16|bf16|q8_0] [--quiet]',
    '',
    'Runs a mergekit recipe (model paths relative to the recipe). Checks every header first and starts',
    'only when the models fit together; writes all or nothing, then re-reads the written headers.',
    '  --out         a .safetensors file, or a folder: the model (sharded when large), recipe.yaml and the',
    "                base model's config.json, generation_config.json and tokenizer files; or a .gguf file for",
    '                llama.cpp, Ollama, LM Studio (Llama, Mistral, Qwen2, Qwen3 with a byte-level BPE tokenizer)',
    '  --backend     webgpu or cpu (default: WebGPU when a hardware adapter exists, else the CPU)',
    '  --shard-size  largest shard of a folder output (default 5GB; GB = 10^9 bytes, GiB = 2^30)',
    "  --gguf-type   the weights of a .gguf output (default: the soup's own f32/bf16/f16); norms stay f32",
    '  --quiet       no progress, notes or summary; errors only',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, { booleans: ['quiet'], values: ['out', 'backend', 'shard-size', 'gguf-type'] });
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'give a recipe file (mergekit YAML)' : `expected one recipe file, got ${positionals.length} arguments`);
    }
    const outArg = flags.get('out');
    if (typeof outArg !== 'string' || outArg === '') throw new UsageError('--out is required: a .safetensors file, a folder or a .gguf file');
    const backendArg = flags.get('backend');
    if (backendArg !== undefined && backendArg !== 'webgpu' && backendArg !== 'cpu') {
      throw new UsageError(`--backend must be webgpu or cpu, got '${String(backendArg)}'`);
    }
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
    const { recipe, warnings } = parseRecipe(text, recipeName);
    for (const w of warnings) say(`warning: ${w}`);

    // The output.
    const outPath = resolve(outArg);
    const outStat = await stat(outPath).catch(() => undefined);
    const toGguf = isGgufPath(outPath) && !outStat?.isDirectory();
    const ggufType = parseGgufType(flags.get('gguf-type'), toGguf);
    const soupPath = toGguf ? ggufSoupPath(outPath) : undefined;
    const toFile = outStat ? !outStat.isDirectory() : /\.safetensors$/i.test(outPath) || toGguf;
    if (toFile && !/\.safetensors$/i.test(outPath) && !toGguf) {
      throw new UsageError(`--out ${outArg} is an existing file that is neither .safetensors nor .gguf; give a .safetensors or .gguf file, or a folder`);
    }
    const shardArg = flags.get('shard-size');
    if (shardArg !== undefined && toFile) throw new UsageError('--shard-size applies to a folder output; --out names a single .safetensors file');
    const maxShardBytes = toFile ? Infinity : typeof shardArg === 'string' ? parseSize(shardArg) : DEFAULT_SHARD_BYTES;

    // The models, opened (headers only).
    const opened: OpenedModel[] = [];
    let backend: SoupBackend | undefined;
    let gguf: GgufOutputPlan | undefined;
    try {
      for (const ref of modelRefsOf(recipe)) opened.push(await openModel(recipe, recipePath, ref));
      await refuseOverwritingInputs(outPath, toFile, opened, recipe);

      let plan: MergePlan;
      try {
        plan = planMerge(recipe, new Map<string, Checkpoint>(opened.map((m) => [m.ref.path, m.checkpoint])));
      } catch (e) {
        if (e instanceof PreflightError && e.report.errors.length > 1) {
          printReport(io, e.report, quiet);
          io.stderr(`souplab merge: the pre-flight check found ${e.report.errors.length} problems; nothing was read or written\n`);
          return 2;
        }
        throw e;
      }
      printReport(io, plan.preflight, quiet);
      if (soupPath) gguf = await planGgufOutput(plan, soupPath, ggufType);

      backend = await chooseBackend(backendArg, say);

      // No absolute path of this machine goes into the model's metadata: the paths stay as the recipe wrote them.
      const recipeYaml = `# made by souplab merge from ${basename(recipePath)}; model paths are relative to that recipe's folder\n${recipeToYaml(recipe)}`;
      const extraFiles: ExtraOutputFile[] = [];
      if (!toFile) {
        extraFiles.push({ name: 'recipe.yaml', data: new TextEncoder().encode(recipeYaml) });
        extraFiles.push(...(await carriedFiles(plan)));
      }
      const progress = quiet || !io.stderrIsTTY ? undefined : progressLine(io);
      const soupCount = plan.steps.filter((s) => s.kind === 'soup').length;
      let result;
      try {
        result = await runMerge(plan, {
          backend,
          target: soupPath ? nodeFileTarget(soupPath) : toFile ? nodeFileTarget(outPath) : nodeFolderTarget(outPath),
          recipeYaml,
          maxShardBytes,
          extraFiles,
          readBack: (name) => nodeFileSource(soupPath ?? (toFile ? outPath : join(outPath, name)), name),
          signal: io.signal,
          onProgress: progress?.update,
        });
      } finally {
        progress?.clear();
      }
      if (gguf) {
        const g = gguf;
        const line = quiet || !io.stderrIsTTY ? undefined : progressLine(io);
        const started = performance.now();
        const converted = await convertSoupToGguf(g, outPath, {
          signal: io.signal,
          onProgress:
            line &&
            ((p) => {
              const rate = p.bytesWritten / Math.max((performance.now() - started) / 1000, 1e-3);
              line.update({ ...p, bytesDone: p.bytesWritten, bytesPerSecond: rate, etaSeconds: (p.bytesTotal - p.bytesWritten) / rate }, 'writing GGUF');
            }),
        }).finally(() => line?.clear());
        if (!quiet) {
          const fallbacks = converted.q8Fallbacks.length > 0 ? ` (${converted.q8Fallbacks.length} with rows not divisible by 32 kept F16)` : '';
          io.stdout(
            [
              plan.ingredients.length === 1 ? `converted ${plan.reference.label} into ${outArg}` : `merged ${plan.ingredients.length} models (${recipe.method}) into ${outArg}`,
              `  tensors   ${converted.tensors} as GGUF ${g.type}${fallbacks}; norms and biases F32`,
              `  written   ${humanBytes(converted.bytes)}`,
              `  model     ${g.files.config.hfArchitecture}, tokenizer and chat template from ${plan.reference.label}`,
              `  backend   ${backend.description}`,
            ].join('\n') + '\n',
          );
        }
        return 0;
      }
      if (!quiet) {
        const files = result.files.filter((f) => f.endsWith('.safetensors'));
        io.stdout(
          [
            `merged ${plan.ingredients.length} models (${recipe.method}) into ${outArg}`,
            `  tensors   ${plan.steps.length} (${soupCount} merged, ${plan.steps.length - soupCount} copied from ${plan.reference.label})`,
            `  written   ${humanBytes(plan.outputBytes)} in ${files.length} file${files.length > 1 ? 's' : ''}${extraFiles.length > 0 ? ` + ${extraFiles.map((f) => f.name).join(', ')}` : ''}`,
            `  time      ${result.seconds.toFixed(1)} s, ${humanBytes(plan.inputBytes / Math.max(result.seconds, 1e-9))}/s of input`,
            `  backend   ${backend.description}`,
            `  verified  every written header re-read and checked`,
          ].join('\n') + '\n',
        );
      }
      return result.verified ? 0 : 1;
    } finally {
      if (soupPath) await removeSoupFile(soupPath);
      await backend?.dispose().catch(() => undefined);
      await Promise.all(opened.map((m) => m.checkpoint.close().catch(() => undefined)));
    }
  },
};

/** Opens one recipe model; a missing path or a bad file is reported with the recipe line. */
async function openModel(recipe: Recipe, recipePath: string, ref: ModelRef): Promise<OpenedModel> {
  const where = `${recipe.fileName} line ${ref.line ?? '?'}: `;
  const path = isAbsolute(ref.path) ? ref.path : resolve(dirname(recipePath), ref.path);
  const s = await stat(path).catch(() => undefined);
  if (!s) {
    const looksLikeHubId = /^[\w.-]+\/[\w.-]+$/.test(ref.path) && !ref.path.endsWith('.safetensors');
    throw new InputError(
      `${where}model ${ref.path} not found (${path}: no such file or folder)${looksLikeHubId ? '; SoupLab reads local checkpoints: download it first, e.g. huggingface-cli download ' + ref.path + ' --local-dir <folder>' : ''}`,
    );
  }
  try {
    return { ref, path, checkpoint: await openCheckpointPath(path) };
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${where}model ${ref.path}: ${e.message}`);
    throw e;
  }
}

/** The output must not be, contain, or sit in the folder of an input: writing it would replace input files. */
async function refuseOverwritingInputs(outPath: string, toFile: boolean, models: OpenedModel[], recipe: Recipe): Promise<void> {
  const real = async (p: string) => realpath(p).catch(async () => join(await realpath(dirname(p)).catch(() => dirname(p)), basename(p)));
  const out = await real(outPath);
  for (const m of models) {
    const where = `${recipe.fileName} line ${m.ref.line ?? '?'}`;
    const input = await real(m.path);
    const files = await Promise.all(
      m.checkpoint.files.map((f) => real((f.source as ByteSource & { path?: string }).path ?? join(m.path, f.name))),
    );
    const inside = (child: string, parent: string) => {
      const r = relative(parent, child);
      return r === '' || (!r.startsWith('..') && !isAbsolute(r) && r.split(sep)[0] !== '..');
    };
    const clash =
      out === input ||
      files.includes(out) ||
      (!toFile && files.some((f) => dirname(f) === out)) ||
      (!toFile && inside(input, out)) ||
      (toFile && m.checkpoint.files.length > 0 && dirname(out) === input);
    if (clash) {
      throw new InputError(`--out ${outPath} would overwrite input model ${m.ref.path} (${where}); choose another output`);
    }
  }
}

async function chooseBackend(forced: string | true | undefined, say: (line: string) => void): Promise<SoupBackend> {
  if (forced === 'cpu') return createNodeCpuBackend();
  if (forced === 'webgpu') {
    const adapter = await requestAdapter(await nodeGPU()); // throws WebGPUNotAvailableError: no fallback when forced
    return createWebGPUSoupBackend(adapter);
  }
  let reason: string;
  try {
    // Without a GPU device node there is no hardware adapter to find, and probing makes the Vulkan
    // loader print driver warnings of its own: say so and go to the CPU.
    if (!mayHaveGpuDevice()) throw new Error('no GPU device here (no /dev/dri render node, /dev/nvidia* or /dev/dxg)');
    const adapter = await requestAdapter(await nodeGPU());
    const summary = describeAdapter(adapter);
    if (!summary.isFallback && !/swiftshader|llvmpipe|lavapipe|software/i.test(summary.name)) {
      return await createWebGPUSoupBackend(adapter);
    }
    reason = `the WebGPU adapter (${summary.name}) is a software renderer, slower than the CPU path (--backend webgpu uses it anyway)`;
  } catch (e) {
    reason = e instanceof Error ? e.message.replace(/: the CPU path will be used$/, '') : String(e);
  }
  const cpu = createNodeCpuBackend();
  say(`note: ${reason}; merging on the CPU (${cpu.description})`);
  return cpu;
}

/** False only on Linux when no device node a GPU driver would use exists. */
function mayHaveGpuDevice(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, pattern: RegExp) => {
    try {
      return readdirSync(dir).some((f) => pattern.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev/dri', /^renderD\d+$/) || has('/dev', /^(nvidia\d+|dxg)$/);
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
      const line = `${label} ${p.tensorsDone}/${p.tensorsTotal} tensors  ${humanBytes(p.bytesDone)} of ${humanBytes(p.bytesTotal)}  ${humanBytes(p.bytesPerSecond)}/s  ETA ${eta}`;
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
