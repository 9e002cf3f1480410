/**
 * A cluster search's work folder on disk: the WorkFolder the external evaluator uses (point folders,
 * job scripts, logs, the lm-eval output each job leaves), jobs.jsonl (every submission, for resume),
 * the lock that keeps two searches out of one folder, and the disk-space check before starting.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseJsonLenient } from '../analysis/pythonJson';
import { parseLmEvalSamples, type LmEvalSample } from '../analysis/lmEval';
import { InputError } from '../errors';
import type { JobLedgerEntry, WorkFolder } from '../search/cluster/externalEvaluator';
import type { EvaluatorOutput } from '../search/cluster/pointScores';
import { findLmEvalFiles } from './lmEvalFiles';
import { fsInputError } from './fsErrors';
import { TRIALS_FILE, writeAtomically } from './trialStore';

export const JOBS_FILE = 'jobs.jsonl';
export const LOCK_FILE = 'souplab-search.lock';

export function nodeWorkFolder(root: string, resultsDir: string, merge: (recipe: string, folder: string, signal?: AbortSignal) => Promise<void>): WorkFolder {
  return {
    root,
    join: (...parts) => join(...parts),
    exists: async (p) => existsSync(p),
    remove: (p) => rm(p, { recursive: true, force: true }),
    mkdir: async (p) => {
      await mkdir(p, { recursive: true }).catch((e: unknown) => {
        throw fsInputError(p, e, 'cannot create');
      });
    },
    writeText: (p, text) => writeAtomically(p, text),
    readText: async (p) => readFile(p, 'utf8').catch(() => undefined),
    merge,
    readOutput: async (folder) => readEvaluatorOutput(folder),
    tail: async (p, lines) => {
      const text = await readFile(p, 'utf8').catch(() => '');
      return text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1).slice(-lines).join('\n');
    },
    recordJob: (entry) => appendFile(join(root, JOBS_FILE), `${JSON.stringify(entry)}\n`),
    recordFailure: (failure) => appendFile(join(resultsDir, TRIALS_FILE), `${JSON.stringify(failure)}\n`),
  };
}

/** The lm-eval results and samples files under a folder (at any depth), parsed. */
export async function readEvaluatorOutput(folder: string): Promise<EvaluatorOutput> {
  if (!existsSync(folder)) return { results: [], samples: new Map() };
  const found = findLmEvalFiles(folder);
  const results = await Promise.all(
    found.results.map(async (file) => {
      const text = await readFile(file, 'utf8');
      try {
        return { file, value: parseJsonLenient(text) };
      } catch (e) {
        throw new InputError(`${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
      }
    }),
  );
  const samples = new Map<string, LmEvalSample[]>();
  for (const [task, files] of found.samples) {
    const all: LmEvalSample[] = [];
    for (const f of files) all.push(...parseLmEvalSamples(await readFile(f, 'utf8'), f));
    // Several runs in one folder: the last file's line for a document wins.
    const byDoc = new Map(all.map((s) => [`${s.docId}\u0000${s.filter}`, s]));
    samples.set(task, [...byDoc.values()]);
  }
  return { results, samples };
}

/** The submissions recorded by earlier runs. */
export function readJobLedger(root: string): JobLedgerEntry[] {
  const path = join(root, JOBS_FILE);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        const e = JSON.parse(line) as JobLedgerEntry;
        return typeof e.key === 'string' && typeof e.jobId === 'string' ? [e] : [];
      } catch {
        return []; // a partial last line (a kill mid-write): that submission is found again by its point folder's exit file, or redone
      }
    });
}

/**
 * Takes the work folder for this search: a lock file with this process's id and host, made exclusively.
 * A lock left by a process that is gone (same host) is taken over; one held by a live process, or by
 * another host, is refused with one sentence. Returns the release function.
 */
export function lockWorkFolder(root: string): () => void {
  try {
    mkdirSync(root, { recursive: true });
  } catch (e) {
    throw fsInputError(root, e, 'cannot create');
  }
  const path = join(root, LOCK_FILE);
  const me = `${process.pid} ${hostname()}`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${me}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsInputError(path, e, 'cannot create');
      const [pid, host] = readFileSync(path, 'utf8').trim().split(' ');
      if (host === hostname() && !processAlive(Number(pid))) {
        rmSync(path, { force: true });
        continue;
      }
      throw new InputError(`${root}: another search (process ${pid} on ${host}) is using this work folder; wait for it, or give another --work-dir (remove ${path} if that search is gone)`);
    }
  }
  throw new InputError(`${root}: cannot take the lock ${path}`);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free bytes where a folder is (its nearest existing parent). */
export async function freeBytes(folder: string): Promise<number> {
  let at = folder;
  while (!(await stat(at).catch(() => undefined))) {
    const up = join(at, '..');
    if (up === at) break;
    at = up;
  }
  const s = statfsSync(at);
  return s.bavail * s.bsize;
}
