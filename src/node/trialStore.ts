/**
 * A search's results folder on disk: search.json (what was searched: models, task files and their
 * hashes, metric, split seed) and trials.jsonl (one finished trial per line, appended and flushed to the
 * disk as it finishes). A process killed mid-write leaves at most a partial last line, which the next
 * run drops; a resumed search refuses a folder made for other models, tasks, metric or split.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors';
import { manifestDifference, type SearchManifest } from '../search/manifest';
import type { TrialRecord, TrialStore } from '../search/runSearch';

export type { SearchManifest };
import { fsInputError } from './fsErrors';

export const TRIALS_FILE = 'trials.jsonl';
export const MANIFEST_FILE = 'search.json';

/**
 * Opens (resume) or creates the folder. Without `resume`, a folder that already holds results is
 * refused rather than overwritten.
 */
export async function openResultsFolder(dir: string, manifest: SearchManifest, resume: boolean): Promise<TrialStore & { dropped: number }> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const trialsPath = join(dir, TRIALS_FILE);
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (!resume && entries.length > 0) throw new InputError(`${dir}: the folder holds results already; pass --resume to continue that search, or choose another --out`);
    if (resume && entries.includes(MANIFEST_FILE)) checkSameSearch(dir, manifest);
  } else {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw fsInputError(dir, e, 'cannot create');
    }
  }
  await writeAtomically(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

  // Read what is there, dropping a partial last line (a kill mid-append) and rewriting the file without it.
  const { records, kept, dropped } = await readTrialsFile(trialsPath);
  if (dropped > 0) await writeAtomically(trialsPath, kept.map((l) => `${l}\n`).join(''));
  return {
    dropped,
    load: async () => records,
    async append(record) {
      const handle = await open(trialsPath, 'a');
      try {
        await handle.write(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
}

/** The trial records of a trials file (none when it is missing); a partial last line (a kill mid-append) is counted as dropped. */
async function readTrialsFile(trialsPath: string): Promise<{ records: TrialRecord[]; kept: string[]; dropped: number }> {
  const records: TrialRecord[] = [];
  const kept: string[] = [];
  let dropped = 0;
  if (!existsSync(trialsPath)) return { records, kept, dropped };
  const lines = (await readFile(trialsPath, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const r = JSON.parse(line) as TrialRecord;
      if (typeof r.key !== 'string' || !Array.isArray(r.weights)) throw new Error('not a trial');
      records.push(r);
      kept.push(line);
    } catch {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim() !== '')) throw new InputError(`${trialsPath} line ${i + 1}: not a trial record; the file is damaged`);
      dropped++;
    }
  });
  return { records, kept, dropped };
}

/**
 * The trials a `--resume` of the search described by `manifest` would reuse from `dir`, read without
 * writing anything (for `souplab search --estimate`); none when the folder is missing or empty.
 */
export async function storedTrials(dir: string, manifest: SearchManifest): Promise<TrialRecord[]> {
  if (!existsSync(join(dir, MANIFEST_FILE))) return [];
  checkSameSearch(dir, manifest);
  return (await readTrialsFile(join(dir, TRIALS_FILE))).records;
}

/** Refuses to resume from `dir` a search other than `manifest`'s. */
function checkSameSearch(dir: string, manifest: SearchManifest): void {
  const manifestPath = join(dir, MANIFEST_FILE);
  let old: SearchManifest;
  try {
    old = JSON.parse(readFileSync(manifestPath, 'utf8')) as SearchManifest;
  } catch (e) {
    throw new InputError(`${manifestPath}: not a SoupLab search manifest (${(e as Error).message.split('\n')[0]})`);
  }
  const differs = manifestDifference(old, manifest);
  if (differs) throw new InputError(`${dir}: --resume found a search of ${differs}; use a new --out for a different search`);
}

/** Writes through a temporary file renamed into place: a reader never sees half a file. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.souplab-tmp-${process.pid}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    throw fsInputError(path, e, 'cannot write');
  }
}
