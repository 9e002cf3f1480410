/**
 * A search point evaluated by someone else's engine: the soup is written as a model folder (here, by
 * `souplab merge`, or inside the job with merge-in-job), a job runs the user's evaluator command on it
 * (a shell here, or a Slurm job), and the point's scores are read back from the lm-eval results it wrote.
 *
 * Per point, in the work folder: <id>/recipe.yaml, <id>/model/ (the soup, deleted after its evaluation
 * unless kept), and per attempt <id>/job-<n>.sh, job-<n>.log, exit-<n> (the evaluator's exit status,
 * written by the script itself so that no scheduler accounting is needed) and out-<n>/ (the results).
 * jobs.jsonl records every submission, so a resumed search re-attaches to a job still queued or running,
 * collects one that finished, and submits only what is missing.
 *
 * Faults: a job that fails, is cancelled by someone else, times out or is preempted is tried again up to
 * `retries` times, then the point is recorded as failed with its log's last lines. A job that succeeded
 * but left no results, or results without the tasks of the other points, is the user's command at
 * fault: one clear error stops the search (finished points are kept).
 */
import { CancelledError, throwIfAborted } from '../../errors';
import { linearRecipeYaml } from '../../analysis/recipes';
import type { PointFailure, PointEvaluator, TrialRecord } from '../runSearch';
import type { RecipeVocabulary } from '../searchVocabulary';
import { pointKey, type SearchPoint } from '../points';
import type { JobEnd, Launcher } from './launcher';
import { scoreEvaluatorOutput, type EvaluatorOutput } from './pointScores';
import { fillTemplate, shellQuote } from './template';

/** What the evaluator needs of the file system and of `souplab merge` (src/node/clusterWork.ts). */
export interface WorkFolder {
  /** The work folder (absolute). */
  readonly root: string;
  join(...parts: string[]): string;
  exists(path: string): Promise<boolean>;
  /** Removes a file or folder if present. */
  remove(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  writeText(path: string, text: string): Promise<void>;
  readText(path: string): Promise<string | undefined>;
  /** Writes the soup of a recipe as a model folder, as `souplab merge <recipe> --out <folder>` does. */
  merge(recipe: string, folder: string, signal?: AbortSignal): Promise<void>;
  /** The lm-eval results and samples under a folder, at any depth. */
  readOutput(folder: string): Promise<EvaluatorOutput>;
  /** The last lines of a log file ('' when there is none). */
  tail(path: string, lines: number): Promise<string>;
  /** Appends a line to jobs.jsonl. */
  recordJob(entry: JobLedgerEntry): Promise<void>;
  /** Appends a failure line to trials.jsonl. */
  recordFailure(failure: PointFailure): Promise<void>;
}

export interface JobLedgerEntry {
  key: string;
  point: string;
  attempt: number;
  jobId: string;
  launcher: Launcher['kind'];
  at: string;
}

export interface ExternalEvaluatorOptions {
  work: WorkFolder;
  launcher: Launcher;
  template: string;
  /** Model names and their checkpoints (absolute paths), aligned with the search's models. */
  models: { name: string; path: string }[];
  /** The recipes' tokenizer_source or tokenizer: block (models by their paths): every point's recipe then keeps every model, weight 0 included, so that its vocabulary is the search's. */
  vocabulary?: RecipeVocabulary;
  metric: string;
  splitSeed: number;
  tuneShare: number;
  jobs: number;
  retries: number;
  keepSoups: boolean;
  /** Run `souplab merge` inside the job (`souplabCmd merge recipe --out model`) instead of here. */
  mergeInJob: boolean;
  souplabCmd: string;
  /** jobs.jsonl of an earlier run of this search (resume). */
  ledger: JobLedgerEntry[];
  /** Categories of the trials already stored (a resumed search): every point must have them. */
  categories?: string[];
  now?: () => Date;
  say?: (line: string) => void;
}

export interface ExternalEvaluator extends PointEvaluator {
  /** The categories, once a point has been read. */
  categories(): string[] | undefined;
  /** Categories scored without a held-out split (no samples files). */
  unsplit(): string[];
  /** Jobs submitted in this run. */
  submitted(): number;
}

/** A point's folder name: its weights, as its key has them ("soup-0.1_0.2_0.7"). */
export function pointId(weights: readonly number[]): string {
  return `soup-${pointKey(weights).split('|').join('_')}`;
}

const LOG_LINES = 20;

export function externalEvaluator(opts: ExternalEvaluatorOptions): ExternalEvaluator {
  const { work, launcher } = opts;
  let categories = opts.categories && opts.categories.length > 0 ? [...opts.categories] : undefined;
  const unsplit = new Set<string>();
  const lastJob = new Map<string, JobLedgerEntry>();
  for (const e of opts.ledger) if ((lastJob.get(e.key)?.attempt ?? -1) < e.attempt) lastJob.set(e.key, e);
  let submitted = 0;
  // Soups are written here one at a time: merging is disk- and memory-bound, the jobs are what run in parallel.
  let mergeQueue: Promise<unknown> = Promise.resolve();
  const merged = <T>(f: () => Promise<T>): Promise<T> => {
    const run = mergeQueue.then(f, f);
    mergeQueue = run.catch(() => undefined);
    return run;
  };

  const recipeOf = (weights: number[]) => {
    const used = opts.models.flatMap((m, i) => (weights[i] > 0 || opts.vocabulary !== undefined ? [{ m, w: weights[i] }] : []));
    return linearRecipeYaml(
      used.map(({ m }) => ({ name: m.name, checkpoint: m.path })),
      used.map(({ w }) => w),
      { comment: 'a SoupLab search point; model paths are absolute', ...opts.vocabulary },
    );
  };

  const scriptOf = (dir: string, recipe: string, model: string, out: string, exitFile: string, id: string, attempt: number) => {
    const evaluate = fillTemplate(opts.template, { model, out, point: id });
    const lines = ['#!/bin/sh', `# SoupLab search point ${id}, attempt ${attempt}`, `cd ${shellQuote(dir)} || exit 1`, '('];
    if (opts.mergeInJob) lines.push(`  ${opts.souplabCmd} merge ${shellQuote(recipe)} --out ${shellQuote(model)} --quiet || exit $?`);
    lines.push(`  ${evaluate}`, ')', 'status=$?', `echo "$status" > ${shellQuote(`${exitFile}.tmp`)} && mv ${shellQuote(`${exitFile}.tmp`)} ${shellQuote(exitFile)}`, 'exit $status', '');
    return lines.join('\n');
  };

  /** Waits for a job; cancels it (and only it) when the search is stopped. */
  const waitFor = async (jobId: string, signal?: AbortSignal): Promise<JobEnd> => {
    try {
      return await launcher.wait(jobId, signal);
    } catch (e) {
      if (signal?.aborted || e instanceof CancelledError) {
        await launcher.cancel([jobId]).catch(() => undefined);
        throw new CancelledError();
      }
      throw e;
    }
  };

  type Outcome = { ok: true; record: TrialRecord } | { ok: false; reason: string };

  /** Reads an attempt that has ended: its scores, or why it failed. */
  const collect = async (point: SearchPoint, key: string, dir: string, attempt: number, end: JobEnd | undefined, seconds: { soup: number; eval: number }): Promise<Outcome> => {
    const exitText = await work.readText(work.join(dir, `exit-${attempt}`));
    // Only the script's own exit file says the evaluator finished: a cancelled job's accounting may say exit 0 (killed by signal 15).
    const code = exitText !== undefined && exitText.trim() !== '' ? Number(exitText.trim()) : null;
    if (code !== 0) {
      const state = end?.state && end.state !== 'COMPLETED' && end.state !== 'ENDED' ? end.state : code === null ? 'ended without finishing (cancelled or killed)' : 'FAILED';
      return { ok: false, reason: `${state}${code !== null ? `, exit status ${code}` : ''}` };
    }
    const out = work.join(dir, `out-${attempt}`);
    const scores = scoreEvaluatorOutput(await work.readOutput(out), { metric: opts.metric, splitSeed: opts.splitSeed, tuneShare: opts.tuneShare, expected: categories, where: `${out} (point ${pointId(point.weights)})` });
    categories ??= scores.categories;
    scores.unsplit.forEach((c) => unsplit.add(c));
    const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    const record: TrialRecord = {
      key,
      weights: point.weights,
      kinds: [point.kind],
      label: point.label,
      tune: scores.tune,
      heldOut: scores.heldOut,
      objective: sum(scores.tune),
      heldOutObjective: sum(scores.heldOut),
      soupSeconds: seconds.soup,
      evalSeconds: seconds.eval,
      solved: scores.solved,
    };
    return { ok: true, record };
  };

  return {
    description: `${opts.jobs} at once on ${launcher.description}, evaluated by: ${opts.template}`,
    concurrency: Math.max(1, opts.jobs),
    categories: () => categories,
    unsplit: () => [...unsplit],
    submitted: () => submitted,
    async evaluate(point, key, signal) {
      throwIfAborted(signal);
      const id = pointId(point.weights);
      const dir = work.join(work.root, id);
      const model = work.join(dir, 'model');
      const recipe = work.join(dir, 'recipe.yaml');
      const seconds = { soup: 0, eval: 0 };
      let reason = '';
      let attempt = 0;
      let lastLog = '';
      const finish = async (o: Outcome): Promise<TrialRecord | undefined> => {
        if (!o.ok) {
          reason = o.reason;
          return undefined;
        }
        if (!opts.keepSoups) await work.remove(model);
        return o.record;
      };

      // A resumed search: the last job of this point may have finished, or be running still.
      const prior = lastJob.get(key);
      if (prior) {
        attempt = prior.attempt;
        lastLog = work.join(dir, `job-${attempt}.log`);
        const ended = (await work.exists(work.join(dir, `exit-${attempt}`))) || prior.launcher !== launcher.kind || !(await launcher.alive(prior.jobId));
        // Said before the wait, which may be long: the user sees what the search is waiting for.
        if (ended) opts.say?.(`${id}: job ${prior.jobId} of an earlier run has ended; reading what it left`);
        else opts.say?.(`${id}: waiting for job ${prior.jobId} of an earlier run`);
        const end = ended ? undefined : await waitFor(prior.jobId, signal);
        const done = await finish(await collect(point, key, dir, attempt, end ?? { state: 'ENDED', exitCode: null }, seconds));
        if (done) return done;
      }

      for (let tries = 0; tries <= opts.retries; tries++) {
        throwIfAborted(signal);
        attempt++;
        if (!opts.mergeInJob && !(await work.exists(work.join(model, 'config.json')))) {
          await work.mkdir(dir);
          await work.writeText(recipe, recipeOf(point.weights));
          const t0 = performance.now();
          await merged(async () => {
            throwIfAborted(signal);
            await work.remove(model);
            await work.merge(recipe, model, signal);
          });
          seconds.soup += (performance.now() - t0) / 1000;
        } else {
          await work.mkdir(dir);
          await work.writeText(recipe, recipeOf(point.weights));
          if (opts.mergeInJob) await work.remove(model);
        }
        const out = work.join(dir, `out-${attempt}`);
        const exitFile = work.join(dir, `exit-${attempt}`);
        const script = work.join(dir, `job-${attempt}.sh`);
        lastLog = work.join(dir, `job-${attempt}.log`);
        await work.remove(out);
        await work.remove(exitFile);
        await work.mkdir(out);
        await work.writeText(script, scriptOf(dir, recipe, model, out, exitFile, id, attempt));
        throwIfAborted(signal);
        const jobId = await launcher.submit({ name: `souplab-${id}`, script, log: lastLog, cwd: dir });
        submitted++;
        const entry: JobLedgerEntry = { key, point: id, attempt, jobId, launcher: launcher.kind, at: (opts.now?.() ?? new Date()).toISOString() };
        lastJob.set(key, entry);
        await work.recordJob(entry);
        const t1 = performance.now();
        const end = await waitFor(jobId, signal);
        seconds.eval += (performance.now() - t1) / 1000;
        const done = await finish(await collect(point, key, dir, attempt, end, seconds));
        if (done) return done;
        if (tries < opts.retries) opts.say?.(`${id}: job ${jobId} ${reason}; trying again (${tries + 1} of ${opts.retries})`);
      }
      if (!opts.keepSoups) await work.remove(model);
      const failure: PointFailure = { key, weights: point.weights, kinds: [point.kind], failed: { attempts: opts.retries + 1, reason, logTail: await work.tail(lastLog, LOG_LINES) } };
      await work.recordFailure(failure);
      opts.say?.(`${id}: failed ${opts.retries + 1} time${opts.retries > 0 ? 's' : ''} (${reason}); recorded as failed, the search goes on`);
      return failure;
    },
  };
}
