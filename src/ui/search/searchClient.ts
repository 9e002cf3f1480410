/** Starts the Search worker and speaks its protocol. */
import { startJob, type RunningJob } from '../evalWorker/client';
import type { FromSearchWorker, SearchRequest } from './protocol';

export type SearchDone = Extract<FromSearchWorker, { type: 'done' }>;
export type SearchUpdate = Exclude<FromSearchWorker, { type: 'done' } | { type: 'failed' }>;

export function startSearch(req: SearchRequest, on: (m: SearchUpdate) => void): RunningJob<SearchDone> {
  const worker = new Worker(new URL('./searchWorker.ts', import.meta.url), { type: 'module', name: 'souplab-search' });
  return startJob<SearchRequest, FromSearchWorker, SearchDone>(worker, 'Search', req, on);
}
