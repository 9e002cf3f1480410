/** Task files from the command line: files, or folders of .jsonl / .txt files (sorted by name). */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors';
import { isTaskFileName, parseTaskFile, type TaskFile } from '../eval/taskFile';
import { fsInputError } from './fsErrors';

export interface ReadTaskFiles {
  files: TaskFile[];
  /** sha256 of each file's bytes, aligned with files: a resumed search checks them. */
  hashes: string[];
}

export function readTaskFiles(paths: string[]): ReadTaskFiles {
  const list: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      throw fsInputError(p, e);
    }
    if (!isDir) {
      list.push(p);
      continue;
    }
    const names = readdirSync(p).filter(isTaskFileName).sort();
    if (names.length === 0) throw new InputError(`${p}: a folder with no task files (.jsonl or .txt) in it`);
    list.push(...names.map((n) => join(p, n)));
  }
  const files: TaskFile[] = [];
  const hashes: string[] = [];
  for (const p of list) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(p);
    } catch (e) {
      throw fsInputError(p, e, 'cannot read');
    }
    const f = parseTaskFile(p, bytes.toString('utf8'));
    const clash = files.find((g) => g.name === f.name);
    if (clash) throw new InputError(`${p}: its category name "${f.name}" is also that of ${clash.file}; rename one (a task file is a category)`);
    files.push(f);
    hashes.push(createHash('sha256').update(bytes).digest('hex'));
  }
  return { files, hashes };
}
