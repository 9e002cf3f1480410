/** `--plan FILE`: the points a search evaluates, as an index.csv or a list of weights (search with or without an external evaluator). */
import { readFileSync } from 'node:fs';
import { UsageError } from './io';

export function readPlan(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--plan ${path}: ${code === 'ENOENT' ? 'no such file (the plan is grid, adaptive or an index.csv)' : (e as Error).message}`);
  }
}
