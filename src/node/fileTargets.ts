import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { InputError } from '../errors';
import type { OutputTarget } from '../formats/writer';
import type { ByteSink } from '../formats/types';
import { fsInputError } from './fsErrors';

export interface NodeTargetOptions {
  /** Replace files that already exist at the target when committing (default true). Never before commit. */
  overwrite?: boolean;
  /** Start an fdatasync (not waited for) every this many bytes written; default EARLY_FLUSH_BYTES. */
  earlyFlushBytes?: number;
}

/**
 * Temporaries are named `.<name>.partial-<host>-<pid>-<random>`: the host (a hash of its name) and the
 * process that writes them. A process killed outright (kill -9, power loss) cannot remove its own;
 * the next target writing into the same folder removes those whose process on this host is gone.
 */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const TEMP_NAME = /^\..+\.partial-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}$/;

function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.partial-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes the temporaries in `dir` left by SoupLab processes of this host that no longer run. */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== HOST || Number(m[2]) === process.pid || !processIsGone(Number(m[2]))) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

/**
 * What this process is writing now: temporaries, and the folders it created for them (deepest last).
 * removeTemporariesNow() clears them synchronously, for a process about to exit on a second signal.
 */
const liveTemporaries = new Set<string>();
const createdFolders: string[][] = [];

function forgetFolders(chain: string[]): void {
  const i = createdFolders.indexOf(chain);
  if (i >= 0) createdFolders.splice(i, 1);
}

export function removeTemporariesNow(): void {
  for (const p of liveTemporaries) {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }
  liveTemporaries.clear();
  for (const chain of createdFolders) {
    for (const d of [...chain].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        break; // not empty (or gone): its parents are not ours to remove
      }
    }
  }
  createdFolders.length = 0;
}

/**
 * Bytes written between early flushes: past this much since the last, a write starts an fdatasync that
 * it does not wait for, so the disk takes the data while the merge goes on and the fsync before the
 * rename only has the rest to write (issue 22 §4: that fsync was ~0.17 s of a 0.6 s merge of 382 MB).
 */
export const EARLY_FLUSH_BYTES = 64 << 20;

/** A file being written under a temporary name beside its final name. */
class TempFile implements ByteSink {
  private handle: FileHandle | undefined;
  private position = 0;
  private unflushed = 0;
  /** The early flush in flight; its failure fails the file at close(). */
  private flushing: Promise<unknown> | undefined;
  state: 'writing' | 'closed' | 'aborted' = 'writing';
  /** The file's identity on disk, kept by rename(): another file at finalPath later has another. */
  private identity: { dev: number; ino: number } | undefined;

  private constructor(
    readonly name: string,
    readonly finalPath: string,
    readonly tempPath: string,
    handle: FileHandle,
    private readonly flushEvery: number,
  ) {
    this.handle = handle;
  }

  static async create(name: string, finalPath: string, flushEvery = EARLY_FLUSH_BYTES): Promise<TempFile> {
    const tempPath = tempPathFor(finalPath);
    await removeStaleTemporaries(dirname(finalPath));
    try {
      // 'wx': a new file only; an existing file, the target included, is never opened for writing.
      // Created synchronously and known at once: a process that exits on a second Ctrl-C removes every
      // temporary it knows of, and an open still in the thread pool could create one after that.
      closeSync(openSync(tempPath, 'wx'));
      liveTemporaries.add(tempPath);
    } catch (e) {
      throw fsInputError(finalPath, e, 'cannot create a file there');
    }
    try {
      return new TempFile(name, finalPath, tempPath, await open(tempPath, 'r+'), flushEvery);
    } catch (e) {
      liveTemporaries.delete(tempPath);
      await unlink(tempPath).catch(() => undefined);
      throw fsInputError(finalPath, e, 'cannot create a file there');
    }
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.state !== 'writing' || !this.handle) throw new Error(`${this.name}: write after ${this.state}`);
    let done = 0;
    while (done < data.length) {
      try {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, this.position);
        done += bytesWritten;
        this.position += bytesWritten;
      } catch (e) {
        throw fsInputError(this.finalPath, e, 'write failed');
      }
    }
    this.unflushed += data.length;
    if (this.unflushed >= this.flushEvery && !this.flushing) {
      this.unflushed = 0;
      const flush = this.handle.datasync().then(
        () => {
          if (this.flushing === flush) this.flushing = undefined;
        },
        (e: unknown) => ({ failed: e }),
      );
      this.flushing = flush;
    }
  }

  /** Waits for the early flush in flight; throws what it failed with. */
  private async settleFlush(): Promise<void> {
    const r = (await this.flushing) as { failed: unknown } | undefined;
    this.flushing = undefined;
    if (r) throw r.failed;
  }

  async close(): Promise<void> {
    if (this.state !== 'writing' || !this.handle) throw new Error(`${this.name}: close after ${this.state}`);
    try {
      // On disk before it is renamed into place: a crash never leaves a renamed but empty file.
      await this.settleFlush();
      await this.handle.sync();
      const { dev, ino } = await this.handle.stat();
      this.identity = { dev, ino };
      await this.handle.close();
    } catch (e) {
      throw fsInputError(this.finalPath, e, 'write failed');
    }
    this.handle = undefined;
    this.state = 'closed';
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    const h = this.handle;
    this.handle = undefined;
    await this.settleFlush().catch(() => undefined);
    await h?.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
    liveTemporaries.delete(this.tempPath);
  }

  /** Renamed into place: no longer a temporary. */
  placed(): void {
    liveTemporaries.delete(this.tempPath);
  }

  /** Once placed: whether finalPath now holds another file (a file removed since is not "replaced"). */
  async replaced(): Promise<boolean> {
    const now = await stat(this.finalPath).catch(() => undefined);
    return now !== undefined && this.identity !== undefined && (now.dev !== this.identity.dev || now.ino !== this.identity.ino);
  }
}

async function firstReplaced(files: TempFile[]): Promise<string | undefined> {
  for (const f of files) if (await f.replaced()) return f.name;
  return undefined;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

/**
 * Moves every temporary file into place, or none: existing files are first set aside under backup
 * names and restored if any rename fails.
 */
async function commitAll(files: TempFile[], overwrite: boolean): Promise<void> {
  for (const f of files) {
    if (f.state !== 'closed') throw new Error(`${f.name}: commit before the file was closed`);
    if (!overwrite && (await exists(f.finalPath))) throw new InputError(`${f.finalPath}: already exists (not overwritten)`);
  }
  const backups: { finalPath: string; backup: string }[] = [];
  const placed: string[] = [];
  try {
    for (const f of files) {
      if (await exists(f.finalPath)) {
        const backup = join(dirname(f.finalPath), `.${basename(f.finalPath)}.old-${randomBytes(4).toString('hex')}`);
        await rename(f.finalPath, backup);
        backups.push({ finalPath: f.finalPath, backup });
      }
    }
    for (const f of files) {
      await rename(f.tempPath, f.finalPath);
      f.placed();
      placed.push(f.finalPath);
    }
  } catch (e) {
    for (const p of placed) await unlink(p).catch(() => undefined);
    for (const b of backups) await rename(b.backup, b.finalPath).catch(() => undefined);
    for (const f of files) await f.abort();
    throw fsInputError(files[0]?.finalPath ?? '', e, 'could not move the finished output into place');
  }
  for (const b of backups) await unlink(b.backup).catch(() => undefined);
}

/**
 * One output file at `path`, written as `.<name>.partial-<random>` beside it and renamed over `path`
 * by commit(): until then an existing file at `path` is untouched, and abort() removes the temporary.
 */
export function nodeFileTarget(path: string, opts: NodeTargetOptions = {}): OutputTarget {
  const overwrite = opts.overwrite ?? true;
  let file: TempFile | undefined;
  let done = false;
  return {
    name: path,
    singleFile: true,
    async createFile(name: string): Promise<ByteSink> {
      if (done) throw new Error(`${path}: target already committed or aborted`);
      if (file) throw new Error(`${path}: a single-file target holds one file, asked for ${name} too`);
      const s = await stat(path).catch(() => undefined);
      if (s?.isDirectory()) throw new InputError(`${path}: is a folder; give a file name ending in .safetensors, or write a folder checkpoint`);
      if (s && !overwrite) throw new InputError(`${path}: already exists (not overwritten)`);
      file = await TempFile.create(name, path, opts.earlyFlushBytes);
      return file;
    },
    async commit(): Promise<void> {
      if (done) throw new Error(`${path}: target already committed or aborted`);
      if (!file) throw new Error(`${path}: nothing was written`);
      done = true;
      await commitAll([file], overwrite);
    },
    async abort(): Promise<void> {
      done = true;
      await file?.abort();
    },
    replacedAfterCommit: () => firstReplaced(file ? [file] : []),
  };
}

/** Hugging Face checkpoint files that a new checkpoint in the same folder replaces. */
const CHECKPOINT_FILE = /^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$/;

/**
 * A checkpoint folder: every file is written under a temporary name and all are renamed in commit().
 * The folder is created when missing (and removed again by abort() if it is then empty). With
 * `overwrite` (the default), commit also removes the old model*.safetensors / index files that the new
 * checkpoint does not replace, so the folder never mixes two checkpoints.
 */
export function nodeFolderTarget(dir: string, opts: NodeTargetOptions = {}): OutputTarget {
  const overwrite = opts.overwrite ?? true;
  const files: TempFile[] = [];
  /** The folders this target created, outermost first: abort() removes them again when empty. */
  let created: string[] = [];
  let ready: Promise<void> | undefined;
  let done = false;

  const prepare = async () => {
    const s = await stat(dir).catch(() => undefined);
    if (s && !s.isDirectory()) throw new InputError(`${dir}: is a file, not a folder`);
    if (!s) {
      let first: string | undefined;
      try {
        first = await mkdir(dir, { recursive: true });
      } catch (e) {
        throw fsInputError(dir, e, 'cannot create the folder');
      }
      if (first !== undefined) {
        // mkdir gives the outermost folder it made; the chain runs from there down to `dir`.
        const steps = relative(first, dir).split(sep).filter((x) => x !== '');
        created = [first, ...steps.map((_, i) => join(first, ...steps.slice(0, i + 1)))];
        createdFolders.push(created);
      }
    }
  };

  return {
    name: dir,
    singleFile: false,
    async createFile(name: string): Promise<ByteSink> {
      if (done) throw new Error(`${dir}: target already committed or aborted`);
      if (name !== basename(name) || name === '' || name === '.' || name === '..' || name.includes('\\')) {
        throw new InputError(`${dir}: ${JSON.stringify(name)} is not a plain file name`);
      }
      if (files.some((f) => f.name === name)) throw new Error(`${dir}: ${name} created twice`);
      ready ??= prepare();
      await ready;
      const finalPath = join(dir, name);
      if (!overwrite && (await exists(finalPath))) throw new InputError(`${finalPath}: already exists (not overwritten)`);
      const f = await TempFile.create(name, finalPath, opts.earlyFlushBytes);
      files.push(f);
      return f;
    },
    async commit(): Promise<void> {
      if (done) throw new Error(`${dir}: target already committed or aborted`);
      done = true;
      try {
        await commitAll(files, overwrite);
      } catch (e) {
        await cleanup();
        throw e;
      }
      forgetFolders(created);
      const written = new Set(files.map((f) => f.name));
      if (overwrite && files.some((f) => CHECKPOINT_FILE.test(f.name))) {
        for (const old of await readdir(dir).catch(() => [] as string[])) {
          if (CHECKPOINT_FILE.test(old) && !written.has(old)) await unlink(join(dir, old)).catch(() => undefined);
        }
      }
    },
    async abort(): Promise<void> {
      done = true;
      await cleanup();
    },
    replacedAfterCommit: () => firstReplaced(files),
  };

  async function cleanup(): Promise<void> {
    for (const f of files) await f.abort();
    // Innermost first; rmdir only succeeds on an empty folder, so nothing else is ever removed.
    for (const d of [...created].reverse()) {
      if (!(await rmdir(d).then(() => true, () => false))) break;
    }
    forgetFolders(created);
  }
}
