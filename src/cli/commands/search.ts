import { freemem, totalmem } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { CancelledError, InputError, throwIfAborted } from '../../errors';
import { estimatePlan, estimateText, measurePace, slowPlanWarning } from '../../eval/estimate';
import { prepareTasks } from '../../eval/evaluate';
import type { SoupBackend } from '../../merge/kernel';
import { PreflightError } from '../../merge/preflight';
import { runRecipe } from '../../merge/runRecipe';
import { createNodeCpuBackend } from '../../node/cpuWorkers';
import { modelFilesOf } from '../../node/evalModel';
import { nodeFileSource } from '../../node/fileSource';
import { nodeFileTarget, nodeFolderTarget } from '../../node/fileTargets';
import { loadEvaluator, type ModelBackendChoice } from '../../node/modelBackend';
import { type NodeCheckpoint } from '../../node/openCheckpointPath';
import { openCheckpointRef } from '../../node/openCheckpointRef';
import { readTaskFiles } from '../../node/taskFiles';
import { openResultsFolder, storedTrials, writeAtomically, type SearchManifest } from '../../node/trialStore';
import { planKeysOf, searchEvidence, type SearchEvidence } from '../../search/evidence';
import { objectiveRule } from '../../search/objective';
import { heldOutCsv, pointRecipeYaml, searchProvenance, reportMarkdown, trialIds, trialsCsv, weightsText } from '../../search/outputs';
import { listPoints } from '../../search/points';
import type { PlannedModel } from '../../search/soupLoader';
import { plannedPoints } from '../../search/planSize';
import { type SearchEvent, type SearchPlan, type SearchSpec, type TrialRecord } from '../../search/runSearch';
import { openSearch, type SearchSession } from '../../search/openSearch';
import { manifestVocabulary, recipeVocabulary } from '../../search/searchVocabulary';
import { searchVocabularyFlags } from '../searchVocabularyFlags';
import { formatBytes } from '../../util/bytes';
import { maxLengthFlag, metricFlag } from '../evalFlags';
import { parseModelPaths } from '../modelPaths';
import { ANALYSIS_OPTIONS_HELP } from '../analysisOptions';
import { UsageError, type CliIO, type Command } from '../io';
import { parseSearchArgs } from '../searchConfig';
import { ANY_SEARCH_FLAGS, SEARCH_FLAGS } from '../searchFlags';
import { CLUSTER_OPTIONS_HELP, runClusterSearch, wantsExternalEvaluator } from '../clusterSearch';
import { searchExperts } from '../searchExperts';
import { readPlan } from '../planFile';

export const searchCommand: Command = {
  name: 'search',
  summary: 'the SoCE loop: soup the experts at every weight point in memory, evaluate on task files, report the best soup',
  usage: `souplab search [<score table…>] --models "name=path;…" --tasks <files or folders> --out <results folder> [options]

Picks the experts from the score table (as souplab analyze; without a table every model is an expert),
then for each weight point soups the models in memory into the loaded model and evaluates it on the task
files (one category each) — nothing is written per point. Evaluated first: each model alone, the uniform
soup of all models and of the experts; then the plan; then every uniform coalition (exact Shapley values).
Trials are tuned on a seeded split of each task file (--tune-share, 50/50 by default) and reported on the
held-out part too; --tune-share 1 tunes on every item and holds none out.
The results folder keeps every finished trial as it comes (trials.jsonl); --resume continues a stopped
search without evaluating anything twice. At the end (or on Ctrl-C) it writes trials.csv (for souplab
analyze --trials), held-out.csv, best.yaml, report.md and evidence.json.

  --models "a=/ckpt/a;b=/ckpt/b"  the checkpoints (folders with config.json and tokenizer.json)
  --tasks a.jsonl,b.txt  task files or folders (comma-separated)
  --plan grid|adaptive|<index.csv>   the paper's grid (default), the adaptive pattern search, or a list
                        of points (souplab grid's index.csv: "weight: <model>" columns)
  --out <folder>        the results folder
  --resume              continue the search in --out
  --estimate            load the evaluator, time a short warm-up and print the whole plan's estimated
                        time (with --resume: of the points left), then stop: nothing is evaluated or written
  --backend webgpu|cpu  the evaluator (default: WebGPU on a hardware adapter, else the CPU)
  --metric acc_norm|acc the multiple-choice score (default acc_norm); perplexity tasks
                        score their per-byte probability 100 · 2^(−bits/byte) %, so the objective sums percentages
  --seed 0              seed of the held-out split
  --tune-share 0.5      share of each task's items tuned on (1: no held-out split)
  --max-length N        the context in tokens (default: the model's)
  --shapley all|experts|none   whose uniform coalitions are evaluated for exact Shapley values (default:
                        all models when at most 5, else the experts when at most 5)
  --stream              read every point from the files even when the models fit in memory
  --tokenizer-source union|base|<model>   the output vocabulary when the models' tokenizers differ (as
                        a recipe's tokenizer_source: each model's embedding and LM-head rows aligned to it
                        once; best.yaml keeps every model, weight 0 included, and says it; with
                        --evaluator-cmd so does every point's recipe, its soup in that vocabulary)
  --tokenizer <file.yaml>   instead of --tokenizer-source, mergekit's tokenizer: block (source, tokens with
                        source/force, pad_to_multiple_of; models by the names of --models), kept in
                        best.yaml and every point's recipe as the tokenizer_source is
  --gpu-memory <GiB>    the GPU memory the search may use (WebGPU does not report it): models that do
                        not fit with the evaluator are souped on the CPU and uploaded per point
  --export <file.safetensors | folder>   write the best soup (or --export-trial's) with the evidence in its metadata
  --export-trial <id>   a row of trials.csv to export instead of the best
  --config search.yaml  the options from a YAML or JSON file keyed by their long names (models as a map
                        name: path, tasks and score-tables as lists, evaluator-cmd, jobs, …); paths in it
                        are relative to the file; options on the command line win (docs/cluster.md)
${ANALYSIS_OPTIONS_HELP}${CLUSTER_OPTIONS_HELP}`,
  async run(args, io) {
    if (wantsExternalEvaluator(args)) return runClusterSearch(args, io);
    const { positionals, flags } = parseSearchArgs(args, SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'without evaluator-cmd (the in-memory search)');
    const str = (k: string): string | undefined => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
    const modelsFlag = str('models');
    const tasksFlag = str('tasks');
    const out = str('out');
    if (!modelsFlag) throw new UsageError('--models "name=path;…" is required: the checkpoints to soup');
    if (!tasksFlag) throw new UsageError('--tasks is required: the task files that score each soup');
    if (!out) throw new UsageError('--out <folder> is required: where the results are kept');
    const backendArg = str('backend');
    if (backendArg !== undefined && backendArg !== 'webgpu' && backendArg !== 'cpu') throw new UsageError(`--backend must be webgpu or cpu, got '${backendArg}'`);
    const metric = metricFlag(flags.get('metric'));
    const seed = wholeNumber(str('seed') ?? '0', '--seed');
    const tuneShare = Number(str('tune-share') ?? '0.5');
    if (!(tuneShare > 0 && tuneShare <= 1)) throw new UsageError(`--tune-share must be in (0, 1], got '${str('tune-share')}'`);
    const gpuMemoryArg = str('gpu-memory');
    const gpuMemoryGiB = gpuMemoryArg === undefined ? undefined : Number(gpuMemoryArg);
    if (gpuMemoryGiB !== undefined && !(gpuMemoryGiB > 0)) throw new UsageError(`--gpu-memory must be a positive number of GiB, got '${gpuMemoryArg}'`);
    const quiet = flags.get('quiet') === true;
    const say = (line: string) => {
      if (!quiet) io.stderr(`${line}\n`);
    };
    const paths = parseModelPaths(modelsFlag);
    const names = paths.map((p) => p.name);
    // Read before any model is opened: a mistake in the tokenizer file is said at once.
    const vocabulary = searchVocabularyFlags(flags, names);

    // The experts.
    const { experts, step } = searchExperts(positionals, flags, names, say);
    const planArg = str('plan') ?? 'grid';
    const plan: SearchPlan =
      planArg === 'grid' || planArg === 'adaptive'
        ? { kind: planArg, step }
        : { kind: 'list', points: listPoints(planArg, readPlan(planArg), names) };

    // Tasks (bad items are reported, the rest scored; exit 2 at the end when there were any).
    const taskFiles = readTaskFiles(tasksFlag.split(',').map((s) => s.trim()).filter(Boolean));

    const opened: NodeCheckpoint[] = [];
    let soupBackend: SoupBackend | undefined;
    let session: SearchSession | undefined;
    try {
      for (const p of paths) {
        for (const part of p.path.split('+')) {
          if (!(await stat(part).catch(() => undefined))) throw new InputError(`--models: ${p.name}: ${part}: no such file or folder`);
        }
        // A `base+adapter` ingredient is the base with the LoRA merged in, tensor by tensor as the soup reads it.
        opened.push(await openCheckpointRef(p.path));
      }
      const outAbs = resolve(out);
      const recipePaths = paths.map((p) => p.path.split('+').map((part) => relativePath(outAbs, resolve(part))).join('+'));
      const fileModels: PlannedModel[] = paths.map((p, i) => ({ name: p.name, path: recipePaths[i], checkpoint: opened[i] }));
      soupBackend = createNodeCpuBackend();
      const backend = soupBackend;
      try {
        session = await openSearch({
          models: fileModels,
          vocabulary,
          prepareTasks: async (reference) => {
            const { config, tokenizer } = await modelFilesOf(reference.checkpoint, paths[0].path);
            const { tasks, problems } = prepareTasks(tokenizer, taskFiles.files, maxLengthFlag(flags.get('max-length'), config.maxPositionEmbeddings));
            for (const p of problems) io.stderr(`${p}\n`);
            if (tasks.length === 0) throw new InputError('no task has anything to score');
            return { config, tasks, problems };
          },
          soupBackend: backend,
          // The evaluator's model, loaded with the first model's weights (read from its files).
          createModel: async (config, weights, signal) => {
            const lm = await loadEvaluator((backendArg as ModelBackendChoice | undefined) ?? 'auto', config, weights, { signal, say });
            return { ...lm, dispose: async () => {
              lm.model.dispose();
              await lm.dispose();
            } };
          },
          // Do k models + 1 soup fit? (the GPU, else memory, else streaming from the files)
          fit: {
            memoryBudget: Math.min(totalmem() * 0.75, freemem() + 0.25 * totalmem()),
            stream: flags.get('stream') === true,
            gpuMemoryBudget: gpuMemoryGiB === undefined ? undefined : gpuMemoryGiB * 2 ** 30,
            bytes: formatBytes,
            say,
          },
          signal: io.signal,
        });
      } catch (e) {
        if (e instanceof PreflightError) {
          for (const x of e.report.errors.slice(0, 20)) io.stderr(`error: ${x.message}\n`);
          throw new InputError(`the models do not fit together (${e.report.errors.length} problem${e.report.errors.length > 1 ? 's' : ''}); nothing was evaluated`);
        }
        throw e;
      }
      const { tasks, problems, lm } = session;
      const loader = session.fitted.loader;
      for (const line of session.vocabulary.lines) say(`vocabulary: ${line}`);
      for (const note of session.vocabulary.notes) io.stderr(`${vocabulary === undefined ? 'warning' : 'note'}: ${note}\n`);
      // best.yaml and an export say the vocabulary as a recipe does.
      const recipeVocab = recipeVocabulary(fileModels, vocabulary);

      const manifest: SearchManifest = {
        souplab: 'search',
        models: paths,
        tasks: taskFiles.files.map((f, i) => ({ name: f.name, sha256: taskFiles.hashes[i] })),
        metric,
        splitSeed: seed,
        tuneShare,
        ...manifestVocabulary(vocabulary),
      };
      const shapleyArg = str('shapley');
      if (shapleyArg !== undefined && !['all', 'experts', 'none'].includes(shapleyArg)) throw new UsageError(`--shapley must be all, experts or none, got '${shapleyArg}'`);
      const shapleyPlayers = shapleyArg === 'all' ? names.map((_, i) => i) : shapleyArg === 'experts' ? experts : shapleyArg === 'none' ? [] : undefined;
      const spec: SearchSpec = { models: names, experts, plan, metric, splitSeed: seed, tuneShare, shapleyPlayers };
      // The whole plan's time from a short measured warm-up, before any point is evaluated.
      const estimateFor = async (kept: TrialRecord[]): Promise<string | null> => {
        const planned = plannedPoints(spec, new Set(kept.map((t) => t.key)));
        if (planned.points === 0) return null;
        const estimate = estimatePlan(tasks, planned.points, await measurePace(lm.model, tasks, { signal: io.signal, sampleTokens: 64 }));
        const warning = slowPlanWarning(estimate, lm.model.backend);
        if (warning) io.stderr(`warning: ${warning}\n`);
        return `estimate: ${planned.atLeast ? 'at least ' : ''}${estimateText(estimate, lm.description)} (the evaluation alone, from a warm-up)`;
      };
      if (flags.get('estimate') === true) {
        // Only the estimate: nothing evaluated, nothing written (the stored trials of --resume read, not opened).
        const kept = flags.get('resume') === true ? await storedTrials(out, manifest) : [];
        const line = await estimateFor(kept);
        io.stdout(`${line ?? `estimate: nothing left to evaluate (${kept.length} trials stored in ${out})`}${kept.length > 0 && line ? `; ${kept.length} trials stored in ${out} are reused` : ''}\n`);
        return problems.length > 0 ? 2 : 0;
      }

      const store = await openResultsFolder(out, manifest, flags.get('resume') === true);
      if (store.dropped > 0) say(`resume: dropped ${store.dropped} unfinished trial record${store.dropped > 1 ? 's' : ''} (a stop mid-write)`);
      const trialsSoFar: TrialRecord[] = await store.load();
      const stored = trialsSoFar.length;
      if (stored > 0) say(`resume: ${stored} trials already evaluated are reused`);
      const estimateLine = await estimateFor(trialsSoFar);
      if (estimateLine) say(estimateLine);
      const started = performance.now();
      const writeOutputs = async (trials: TrialRecord[], planKeys: Set<string>, players: number[], info: { evaluated: number; planPoints: number; cancelled: boolean }): Promise<SearchEvidence> => {
        const categories = tasks.map((t) => t.name);
        const evidence = searchEvidence(trials, names, experts, planKeys, players, tasks);
        await writeAtomically(join(out, 'trials.csv'), trialsCsv(trials, names, categories));
        await writeAtomically(join(out, 'held-out.csv'), heldOutCsv(trials, names, categories));
        await writeAtomically(join(out, 'evidence.json'), `${JSON.stringify(evidence, null, 2)}\n`);
        const planText = plan.kind === 'list' ? `list ${planArg}` : `${plan.kind}, step ${plan.step}`;
        await writeAtomically(
          join(out, 'report.md'),
          reportMarkdown(evidence, { plan: planText, objective: objectiveRule(metric), splitSeed: seed, tuneShare, loader: loader.description, evaluated: info.evaluated, trials: trials.length, planPoints: info.planPoints, seconds: (performance.now() - started) / 1000, cancelled: info.cancelled }),
        );
        if (evidence.best) {
          const comment = `SoupLab search: best of ${info.planPoints} points (${planText}); objective ${evidence.best.objective} (tune), ${evidence.best.heldOutObjective} (held-out); paths relative to this file`;
          await writeAtomically(join(out, 'best.yaml'), pointRecipeYaml(evidence.best, names, recipePaths, comment, recipeVocab));
        }
        return evidence;
      };

      const progress = quiet ? undefined : searchProgress(io, names);
      let outcome;
      try {
        outcome = await session.run({
          spec,
          store,
          signal: io.signal,
          onEvent: (e) => {
            progress?.(e);
            if (e.type === 'trial' && !e.reused) trialsSoFar.push(e.record);
          },
        });
      } catch (e) {
        // Cancelled, or failed (a device lost, a bad file): the finished trials are on disk; say so and write what they show.
        const cancelled = e instanceof CancelledError || io.signal.aborted;
        io.stderr(`${io.stderrIsTTY ? '\r\x1b[K' : ''}${cancelled ? 'cancelled' : 'stopped by an error'}: ${trialsSoFar.length} trials are kept in ${out}; run again with --resume to continue\n`);
        await writeOutputs(trialsSoFar, new Set(), [], { evaluated: trialsSoFar.length - stored, planPoints: 0, cancelled: true }).catch(() => undefined);
        throw cancelled ? new CancelledError() : e;
      }
      if (io.stderrIsTTY && !quiet) io.stderr('\r\x1b[K');
      const evidence = await writeOutputs(outcome.trials, planKeysOf(outcome.trials, spec), outcome.shapleyPlayers, { ...outcome, cancelled: false });
      const b = evidence.best;
      io.stdout(
        [
          `searched ${outcome.planPoints} points (${plan.kind}) over ${experts.map((e) => names[e]).join(', ')}: ${outcome.trials.length} soups in ${out} (${outcome.evaluated} evaluated now)`,
          b ? `  best soup   ${weightsText(b.weights, names)}: objective ${fmt(b.objective)} (tune), ${fmt(b.heldOutObjective)} (held-out)` : '  best soup   none',
          evidence.baselines.bestSingle ? `  best single ${evidence.baselines.bestSingle.model}: ${fmt(evidence.baselines.bestSingle.objective)} (tune), ${fmt(evidence.baselines.bestSingle.heldOutObjective)} (held-out)` : '',
          evidence.gain ? `  gain        ${fmt(evidence.gain.tune)} (tune), ${fmt(evidence.gain.heldOut)} (held-out)` : '',
          `  wrote       trials.csv, held-out.csv, best.yaml, report.md, evidence.json`,
        ]
          .filter(Boolean)
          .join('\n') + '\n',
      );

      const exportPath = str('export');
      if (exportPath) {
        throwIfAborted(io.signal);
        const wanted = str('export-trial');
        const ids = trialIds(outcome.trials);
        const chosen = wanted ? outcome.trials[ids.indexOf(wanted)] : outcome.trials.find((t) => t.key === b?.key);
        if (!chosen) throw new InputError(wanted ? `--export-trial: no trial "${wanted}" in trials.csv` : 'no best soup to export');
        await exportSoup(exportPath, out, pointRecipeYaml(chosen, names, recipePaths, '', recipeVocab), chosen, evidence, io, say);
      }
      return problems.length > 0 ? 2 : 0;
    } finally {
      await session?.dispose();
      await soupBackend?.dispose().catch(() => undefined);
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    }
  },
};

/**
 * Writes a soup with the search's evidence in its safetensors metadata ("souplab.search"): the point's
 * recipe run by runRecipe, as `souplab merge` runs best.yaml (the models opened again from the recipe's
 * paths, relative to the results folder).
 */
async function exportSoup(path: string, out: string, recipeYaml: string, trial: TrialRecord, evidence: SearchEvidence, io: CliIO, say: (l: string) => void): Promise<void> {
  const toFile = /\.safetensors$/i.test(path);
  const { result } = await runRecipe({
    text: recipeYaml,
    fileName: 'the exported point',
    openModel: (ref) => openCheckpointRef(ref.path, resolve(out)),
    backend: async () => createNodeCpuBackend(),
    target: toFile ? nodeFileTarget(path) : nodeFolderTarget(path),
    folder: !toFile,
    recipeComment: 'made by souplab search',
    metadata: searchProvenance(trial, evidence),
    readBack: (name) => nodeFileSource(toFile ? path : join(path, name), name),
    signal: io.signal,
  });
  say(`exported ${weightsText(trial.weights, evidence.models)} to ${path} (${result.files.length} file${result.files.length > 1 ? 's' : ''}); the search's evidence is in its metadata as "souplab.search"`);
}

function searchProgress(io: CliIO, names: string[]): (e: SearchEvent) => void {
  let last = 0;
  return (e) => {
    if (e.type === 'phase') return;
    if (e.type === 'scoring') {
      if (!io.stderrIsTTY) return;
      const now = performance.now();
      if (now - last < 200) return;
      last = now;
      io.stderr(`\rscoring a soup: ${e.tokensDone}/${e.tokensTotal} tokens\x1b[K`);
      return;
    }
    const eta = e.etaSeconds === undefined ? '' : `, ETA ${Math.round(e.etaSeconds)} s`;
    const line = `point ${e.done}/${e.planned}${eta}: ${weightsText(e.record.weights, names)} → ${fmt(e.record.objective)} (held-out ${fmt(e.record.heldOutObjective)})${e.reused ? ' [from the results]' : `, ${(e.record.soupSeconds + e.record.evalSeconds).toFixed(1)} s`}`;
    io.stderr(io.stderrIsTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
  };
}

const fmt = (v: number) => String(Math.round(v * 1e4) / 1e4);

function wholeNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number ≥ 0, got '${v}'`);
  return n;
}

function relativePath(fromDir: string, to: string): string {
  const r = relative(fromDir, to);
  return r === '' ? '.' : isAbsolute(r) ? r : r.split('\\').join('/');
}

