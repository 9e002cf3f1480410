/**
 * lm-evaluation-harness's output folders on disk: writing SoupLab's scores in that layout
 * (souplab eval --output-path) and finding the results and samples files under a folder, at any depth
 * (lm-eval nests them in a folder named after the model).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PreparedTask, TaskResult } from '../eval/evaluate';
import { lmEvalOutput } from '../eval/lmEvalOutput';
import type { TaskFile } from '../eval/taskFile';
import { isLmEvalResultsName, lmEvalSamplesTask } from '../analysis/lmEval';
import { fsInputError } from './fsErrors';
import { writeAtomically } from './trialStore';

/** Writes results_<date>.json and the samples files under dir/<model>; returns that folder. */
export async function writeLmEvalOutput(dir: string, model: string, results: TaskResult[], tasks: PreparedTask[], files: TaskFile[], date = new Date()): Promise<string> {
  // doc_id: the item's index among its file's items, as lm-eval numbers a dataset's documents.
  const docIds = new Map(files.map((f) => [f.name, new Map((f.kind === 'multiple_choice' ? f.items : f.documents).map((x, i) => [x.line, i]))]));
  const out = lmEvalOutput(model, results, tasks, docIds, date);
  const folder = join(dir, out.folder);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw fsInputError(folder, e, 'cannot create');
  }
  // Samples first, the results file last: a reader that finds the results finds the samples too.
  for (const f of [...out.files.slice(1), out.files[0]]) await writeAtomically(join(folder, f.name), f.text);
  return folder;
}

export interface LmEvalFilesFound {
  results: string[];
  /** Task → its samples files. */
  samples: Map<string, string[]>;
}

/** Every results_*.json and samples_<task>_*.jsonl under dir, at any depth, sorted by path. */
export function findLmEvalFiles(dir: string): LmEvalFilesFound {
  const found: LmEvalFilesFound = { results: [], samples: new Map() };
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      throw fsInputError(d, e, 'cannot read');
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (isLmEvalResultsName(e.name)) found.results.push(p);
      else {
        const task = lmEvalSamplesTask(e.name);
        if (task !== undefined) found.samples.set(task, [...(found.samples.get(task) ?? []), p]);
      }
    }
  };
  walk(dir);
  return found;
}
