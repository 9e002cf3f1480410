/**
 * `souplab search --evaluator-cmd '…'`: the SoCE search with each point evaluated by the user's own
 * engine (lm-evaluation-harness with vLLM or hf, or souplab eval --output-path), as shell jobs here
 * (--jobs N) or Slurm jobs (--launcher slurm). SoupLab keeps the plan, the souping, the bookkeeping,
 * resume, Shapley, the held-out split and the report; docs/cluster.md says what runs where.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CancelledError, InputError } from '../errors';
import type { PreparedTask } from '../eval/evaluate';
import { PreflightError } from '../merge/preflight';
import { freeBytes, lockWorkFolder, nodeWorkFolder, readJobLedger } from '../node/clusterWork';
import { localLauncher } from '../node/localLauncher';
import { openCheckpointPath, type NodeCheckpoint } from '../node/openCheckpointPath';
import { slurmLauncher, splitArgs } from '../node/slurmLauncher';
import { openResultsFolder, writeAtomically, type SearchManifest } from '../node/trialStore';
import { externalEvaluator, type ExternalEvaluator } from '../search/cluster/externalEvaluator';
import type { Launcher } from '../search/cluster/launcher';
import { EVALUATOR_SCALE_RULE } from '../search/cluster/pointScores';
import { checkEvaluatorTemplate } from '../search/cluster/template';
import { searchEvidence } from '../search/evidence';
import { heldOutCsv, pointRecipeYaml, reportMarkdown, trialsCsv, weightsText } from '../search/outputs';
import { listPoints, uniformOf } from '../search/points';
import { checkpointBytes, planPoint, type PlannedModel } from '../search/soupLoader';
import { alignSearchModels, manifestVocabulary, recipeVocabulary, type RecipeVocabulary } from '../search/searchVocabulary';
import { searchVocabularyFlags } from './searchVocabularyFlags';
import { runSearch, type PointFailure, type SearchPlan, type SearchSpec, type TrialRecord } from '../search/runSearch';
import { UsageError, type CliIO } from './io';
import { configHasKey, parseSearchArgs } from './searchConfig';
import { ANY_SEARCH_FLAGS, CLUSTER_SEARCH_FLAGS } from './searchFlags';
import { parseModelPaths } from './modelPaths';
import { searchExperts } from './searchExperts';
import { readPlan } from './planFile';
import { formatBytes } from '../util/bytes';
import { chooseBackend, DEFAULT_SHARD_BYTES, openRecipeModel, refuseOverwritingInputs, refuseSameModelTwice, type OpenedModel } from './recipeModels';
import { runRecipe } from '../merge/runRecipe';
import { nodeFileSource } from '../node/fileSource';
import { nodeFolderTarget } from '../node/fileTargets';

export const CLUSTER_OPTIONS_HELP = `
With an external evaluator (docs/cluster.md):
  --evaluator-cmd '<command>'   evaluate each point with this shell command instead of in memory: {model} is
                        the soup's model folder, {out} a fresh folder for its lm-eval results (results_*.json,
                        and with --log_samples samples_<task>_*.jsonl for the held-out split), {point} the
                        point's id; each lm-eval task is a category, scored by --metric (default acc_norm)
  --work-dir <folder>   where soups, job scripts, logs and results go (default <out>/work; on Slurm a folder
                        the nodes share); one search at a time (a lock)
  --jobs N              evaluations at once (default 1); the disk must hold N soups
  --launcher local|slurm   run each point here (default) or as a Slurm job (sbatch --parsable)
  --slurm-args '…'      passed to sbatch: --partition=gpu --gres=gpu:8 --time=2:00:00
  --merge-in-job        write the soup inside the job (souplab merge there; --souplab-cmd says how to call it)
  --souplab-cmd <cmd>   SoupLab in the job (default: souplab)
  --retries N           tries again after a failed, cancelled, timed-out or preempted job (default 1)
  --keep-soups          keep each point's soup folder (default: deleted after its evaluation)`;

/** True when a search command line (or its --config file) asks for an external evaluator. */
export function wantsExternalEvaluator(args: string[]): boolean {
  return args.some((a) => a === '--evaluator-cmd' || a.startsWith('--evaluator-cmd=')) || configHasKey(args, 'evaluator-cmd');
}

/** What the cluster search takes from this machine; tests replace the disk's free space. */
export interface ClusterSearchDeps {
  freeBytes: (folder: string) => Promise<number>;
}

export async function runClusterSearch(args: string[], io: CliIO, deps: ClusterSearchDeps = { freeBytes }): Promise<number> {
  const { positionals, flags } = parseSearchArgs(args, CLUSTER_SEARCH_FLAGS, ANY_SEARCH_FLAGS, 'with evaluator-cmd (an external evaluator)');
  const str = (k: string): string | undefined => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
  const template = str('evaluator-cmd') ?? '';
  checkEvaluatorTemplate(template);
  const modelsFlag = str('models');
  const out = str('out');
  if (!modelsFlag) throw new UsageError('--models "name=path;…" is required: the checkpoints to soup');
  if (!out) throw new UsageError('--out <folder> is required: where the results are kept');
  if (flags.has('tasks')) throw new UsageError('--tasks does not apply with --evaluator-cmd: the evaluator command chooses the tasks (lm-eval: --tasks …)');
  const launcherArg = str('launcher') ?? 'local';
  if (launcherArg !== 'local' && launcherArg !== 'slurm') throw new UsageError(`--launcher must be local or slurm, got '${launcherArg}'`);
  if (flags.has('slurm-args') && launcherArg !== 'slurm') throw new UsageError('--slurm-args applies to --launcher slurm');
  const backendArg = str('backend');
  if (backendArg !== undefined && backendArg !== 'webgpu' && backendArg !== 'cpu') throw new UsageError(`--backend must be webgpu or cpu, got '${backendArg}'`);
  const jobs = count(str('jobs') ?? '1', '--jobs', 1);
  const retries = count(str('retries') ?? '1', '--retries', 0);
  const seed = count(str('seed') ?? '0', '--seed', 0);
  const metric = str('metric') ?? 'acc_norm';
  const tuneShare = Number(str('tune-share') ?? '0.5');
  if (!(tuneShare > 0 && tuneShare <= 1)) throw new UsageError(`--tune-share must be in (0, 1], got '${str('tune-share')}'`);
  const quiet = flags.get('quiet') === true;
  const say = (line: string) => {
    if (!quiet) io.stderr(`${line}\n`);
  };
  const paths = parseModelPaths(modelsFlag).map((p) => ({ name: p.name, path: resolve(p.path) }));
  const names = paths.map((p) => p.name);

  // The experts and the plan, as the in-memory search chooses them.
  const { experts, step } = searchExperts(positionals, flags, names, say);
  const planArg = str('plan') ?? 'grid';
  const plan: SearchPlan = planArg === 'grid' || planArg === 'adaptive' ? { kind: planArg, step } : { kind: 'list', points: listPoints(planArg, readPlan(planArg), names) };
  const shapleyArg = str('shapley');
  if (shapleyArg !== undefined && !['all', 'experts', 'none'].includes(shapleyArg)) throw new UsageError(`--shapley must be all, experts or none, got '${shapleyArg}'`);
  const shapleyPlayers = shapleyArg === 'all' ? names.map((_, i) => i) : shapleyArg === 'experts' ? experts : shapleyArg === 'none' ? [] : undefined;

  // Pre-flight from the headers: the models fit together (their rows aligned to the tokenizer source's vocabulary), and how big one soup is.
  const vocabulary = searchVocabularyFlags(flags, names);
  // The point recipes' tokenizer setting: a model's name becomes its (absolute) path, as the recipes name it.
  const recipeVocab = recipeVocabulary(paths, vocabulary);
  const opened: NodeCheckpoint[] = [];
  let soupBytes: number;
  try {
    for (const p of paths) opened.push(await openCheckpointPath(p.path));
    let models: PlannedModel[] = paths.map((p, i) => ({ name: p.name, path: p.path, checkpoint: opened[i] }));
    try {
      const aligned = await alignSearchModels(models, vocabulary);
      models = aligned.models;
      for (const line of aligned.lines) say(`vocabulary: ${line}`);
      for (const note of aligned.notes) io.stderr(`${vocabulary === undefined ? 'warning' : 'note'}: ${note}\n`);
      planPoint(models, uniformOf(names.map((_, i) => i), names.length));
    } catch (e) {
      if (e instanceof PreflightError) {
        for (const x of e.report.errors.slice(0, 20)) io.stderr(`error: ${x.message}\n`);
        throw new InputError(`the models do not fit together (${e.report.errors.length} problem${e.report.errors.length > 1 ? 's' : ''}); nothing was submitted`);
      }
      throw e;
    }
    soupBytes = Math.max(...models.map((m) => checkpointBytes(m.checkpoint)));
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
  }

  const launcher: Launcher =
    launcherArg === 'slurm' ? slurmLauncher({ args: splitArgs(str('slurm-args') ?? ''), pollMs: pollMs(str('poll-seconds')) }) : localLauncher();
  await launcher.check();

  const workDir = resolve(str('work-dir') ?? join(out, 'work'));
  const free = await deps.freeBytes(workDir);
  if (free < soupBytes * jobs)
    throw new InputError(`${workDir}: ${formatBytes(free)} free, but ${jobs} soup${jobs > 1 ? 's' : ''} of ${formatBytes(soupBytes)} (one per running job) need ${formatBytes(soupBytes * jobs)}; lower --jobs or free some space`);
  const manifest: SearchManifest = {
    souplab: 'search',
    models: paths,
    tasks: [{ name: `evaluator: ${template}`, sha256: createHash('sha256').update(template).digest('hex') }],
    metric,
    splitSeed: seed,
    tuneShare,
    ...manifestVocabulary(vocabulary),
  };
  const folder = await openResultsFolder(out, manifest, flags.get('resume') === true);
  const release = lockWorkFolder(workDir);
  try {
    // trials.jsonl holds failed points too: they are not trials, and a resumed search tries them again.
    const isTrial = (r: TrialRecord | PointFailure): r is TrialRecord => !('failed' in r);
    const stored = (await folder.load()).filter(isTrial);
    const store = { load: async () => stored, append: (r: TrialRecord) => folder.append(r) };
    if (stored.length > 0) say(`resume: ${stored.length} trials already evaluated are reused`);

    const work = nodeWorkFolder(workDir, out, (recipe, model, signal) => mergeSoup(recipe, model, backendArg, signal));
    const evaluator: ExternalEvaluator = externalEvaluator({
      work,
      launcher,
      template,
      models: paths,
      vocabulary: recipeVocab,
      metric,
      splitSeed: seed,
      tuneShare,
      jobs,
      retries,
      keepSoups: flags.get('keep-soups') === true,
      mergeInJob: flags.get('merge-in-job') === true,
      souplabCmd: str('souplab-cmd') ?? 'souplab',
      ledger: flags.get('resume') === true ? readJobLedger(workDir) : [],
      categories: stored[0] ? Object.keys(stored[0].tune) : undefined,
      say,
    });
    say(`evaluating: ${evaluator.description}; work folder ${workDir}`);
    const spec: SearchSpec = { models: names, experts, plan, metric: 'acc_norm', splitSeed: seed, tuneShare, shapleyPlayers };
    const started = performance.now();
    const finished: TrialRecord[] = [...stored];
    const failures: PointFailure[] = [];
    const write = (trials: TrialRecord[], planKeys: Set<string>, players: number[], info: { evaluated: number; planPoints: number; cancelled: boolean }) =>
      writeClusterOutputs(out, trials, failures, names, experts, planKeys, players, evaluator, { plan: plan.kind === 'list' ? `list ${planArg}` : `${plan.kind}, step ${plan.step}`, metric, seed, tuneShare, paths, vocabulary: recipeVocab, ...info, seconds: (performance.now() - started) / 1000 });
    let outcome;
    try {
      outcome = await runSearch({
        spec,
        tasks: [],
        evaluator,
        store,
        signal: io.signal,
        onFailure: (f) => failures.push(f),
        onEvent: (e) => {
          if (e.type !== 'trial') return;
          if (!e.reused) finished.push(e.record);
          say(`point ${e.done}/${e.planned}: ${weightsText(e.record.weights, names)} → ${fmt(e.record.objective)} (held-out ${fmt(e.record.heldOutObjective)})${e.reused ? ' [from the results]' : ''}`);
        },
      });
    } catch (e) {
      const cancelled = e instanceof CancelledError || io.signal.aborted;
      io.stderr(`${cancelled ? 'cancelled' : 'stopped by an error'}: ${finished.length} trials are kept in ${out}; run again with --resume to continue\n`);
      await write(finished, new Set(), [], { evaluated: finished.length - stored.length, planPoints: 0, cancelled: true }).catch(() => undefined);
      throw cancelled ? new CancelledError() : e;
    }
    const evidence = await write(outcome.trials, outcome.planKeys, outcome.shapleyPlayers, { ...outcome, cancelled: false });
    const b = evidence.best;
    io.stdout(
      [
        `searched ${outcome.planPoints} points (${plan.kind}) over ${experts.map((e) => names[e]).join(', ')}: ${outcome.trials.length} soups in ${out} (${outcome.evaluated} evaluated now, ${evaluator.submitted()} jobs submitted${failures.length ? `, ${failures.length} failed` : ''})`,
        b ? `  best soup   ${weightsText(b.weights, names)}: objective ${fmt(b.objective)} (tune), ${fmt(b.heldOutObjective)} (held-out)` : '  best soup   none',
        `  wrote       trials.csv, held-out.csv, best.yaml, report.md, evidence.json`,
      ].join('\n') + '\n',
    );
    return failures.length > 0 ? 2 : 0;
  } finally {
    release();
  }
}

/**
 * The soup of a point's recipe as a model folder, through runRecipe as `souplab merge <recipe> --out
 * <folder>` writes it (the same model opening, checks and backend choice: recipeModels.ts).
 */
async function mergeSoup(recipePath: string, folder: string, backend: string | undefined, signal?: AbortSignal): Promise<void> {
  const opened: OpenedModel[] = [];
  try {
    await runRecipe({
      text: await readFile(recipePath, 'utf8'),
      fileName: recipePath,
      openModel: async (ref, recipe) => {
        const m = await openRecipeModel(recipe, recipePath, ref);
        opened.push(m);
        return m.checkpoint;
      },
      beforeWrite: async (plan) => {
        await refuseSameModelTwice(opened, plan.recipe);
        await refuseOverwritingInputs(folder, false, opened, plan.recipe);
      },
      backend: () => chooseBackend(backend, () => undefined, undefined),
      target: nodeFolderTarget(folder),
      folder: true,
      maxShardBytes: DEFAULT_SHARD_BYTES,
      recipeComment: `made by souplab merge from ${basename(recipePath)}; model paths are relative to that recipe's folder`,
      readBack: (name) => nodeFileSource(join(folder, name), name),
      signal,
    });
  } catch (e) {
    // As `souplab merge` ends on several pre-flight problems (one is thrown as it is).
    if (e instanceof PreflightError && e.report.errors.length > 1) {
      throw new InputError(`souplab merge ${recipePath} failed: souplab merge: the pre-flight check found ${e.report.errors.length} problems; nothing was read or written`);
    }
    throw e;
  }
}

async function writeClusterOutputs(
  out: string,
  trials: TrialRecord[],
  failures: PointFailure[],
  names: string[],
  experts: number[],
  planKeys: Set<string>,
  players: number[],
  evaluator: ExternalEvaluator,
  info: { plan: string; metric: string; seed: number; tuneShare: number; paths: { path: string }[]; vocabulary?: RecipeVocabulary; evaluated: number; planPoints: number; cancelled: boolean; seconds: number },
) {
  const categories = evaluator.categories() ?? (trials[0] ? Object.keys(trials[0].tune) : []);
  // The evidence takes categories from tasks; the items are the evaluator's, so none are listed.
  const tasks: PreparedTask[] = categories.map((name) => ({ name, file: name, kind: 'perplexity', documents: [] }));
  const evidence = searchEvidence(trials, names, experts, planKeys, players, tasks);
  await writeAtomically(join(out, 'trials.csv'), trialsCsv(trials, names, categories));
  await writeAtomically(join(out, 'held-out.csv'), heldOutCsv(trials, names, categories));
  await writeAtomically(join(out, 'evidence.json'), `${JSON.stringify({ ...evidence, failed: failures }, null, 2)}\n`);
  const report = reportMarkdown(evidence, {
    plan: info.plan,
    objective: `the sum of the categories' scores on the tune split: each lm-eval task's ${info.metric} (else its first metric), ${EVALUATOR_SCALE_RULE}`,
    splitSeed: info.seed,
    tuneShare: info.tuneShare,
    loader: evaluator.description, evaluated: info.evaluated, trials: trials.length, planPoints: info.planPoints, seconds: info.seconds, cancelled: info.cancelled });
  const extra = ['', '## External evaluation', ''];
  extra.push(`- categories: the evaluator's lm-eval tasks, scored by ${info.metric} (${EVALUATOR_SCALE_RULE})`);
  const unsplit = evaluator.unsplit();
  if (unsplit.length > 0) extra.push(`- **no held-out split** for ${unsplit.join(', ')}: the evaluator wrote no per-sample files (lm-eval: --log_samples), so these are scored on all their documents for both columns`);
  else extra.push('- held-out split: by doc_id from the per-sample files, seeded as above');
  extra.push('', `## Failed points (${failures.length})`, '');
  for (const f of failures) extra.push(`### ${weightsText(f.weights, names)}`, '', `${f.failed.attempts} tries; last: ${f.failed.reason}`, '', '```', f.failed.logTail, '```', '');
  await writeAtomically(join(out, 'report.md'), `${report}\n${extra.join('\n')}\n`);
  if (evidence.best) {
    const comment = `SoupLab search (external evaluator): best of ${info.planPoints} points (${info.plan}); objective ${evidence.best.objective} (tune), ${evidence.best.heldOutObjective} (held-out)`;
    await writeAtomically(join(out, 'best.yaml'), pointRecipeYaml(evidence.best, names, info.paths.map((p) => p.path), comment, info.vocabulary));
  }
  return evidence;
}

const fmt = (v: number) => String(Math.round(v * 1e4) / 1e4);

function count(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number ≥ ${min}, got '${v}'`);
  return n;
}

function pollMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!(s > 0)) throw new UsageError(`--poll-seconds must be a positive number, got '${v}'`);
  return s * 1000;
}
