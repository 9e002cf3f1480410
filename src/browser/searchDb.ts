/**
 * The studio's search results in IndexedDB (database "souplab-search"): one record per search (its
 * manifest, the settings it was started with, its state and its latest evidence) and one record per
 * finished trial, written by the search worker as each point finishes — a reload, a closed tab or a
 * crash loses at most the point being evaluated. `idbTrialStore` is the engine's TrialStore over it:
 * runSearch reads the finished trials back and evaluates only the rest.
 *
 * Works in a page and in a worker (both have IndexedDB).
 */
import type { SearchEvidence } from '../search/evidence';
import type { SearchManifest } from '../search/manifest';
import type { TrialRecord, TrialStore } from '../search/runSearch';

export const SEARCH_DB = 'souplab-search';
const SEARCHES = 'searches';
const TRIALS = 'trials';

export type StoredSearchState = 'running' | 'done' | 'cancelled' | 'failed';

/** A search as stored; `T` is the settings it was started with (the studio's form). */
export interface StoredSearch<T = unknown> {
  id: string;
  manifest: SearchManifest;
  settings: T;
  state: StoredSearchState;
  /** Why it stopped, in words (failed, cancelled). */
  message: string | null;
  /** Points the plan asked for so far (grows as the adaptive search walks). */
  planned: number;
  evidence: SearchEvidence | null;
  /** How the points were souped (the engine's fit line). */
  loader: string | null;
  backend: string | null;
  createdAt: number;
  updatedAt: number;
}

interface TrialRow {
  search: string;
  key: string;
  /** Order of evaluation within the search. */
  seq: number;
  record: TrialRecord;
}

let dbPromise: Promise<IDBDatabase> | undefined;

export function openSearchDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(SEARCH_DB, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore(SEARCHES, { keyPath: 'id' });
      db.createObjectStore(TRIALS, { keyPath: ['search', 'key'] }).createIndex('search', 'search');
    };
    req.onsuccess = () => {
      // Another tab upgrading or deleting the database: step aside rather than block it.
      req.result.onversionchange = () => {
        req.result.close();
        dbPromise = undefined;
      };
      resolve(req.result);
    };
    req.onerror = () => reject(new Error(`the search results cannot be kept: IndexedDB is not available (${req.error?.message ?? 'unknown error'})`));
  }).catch((e: unknown) => {
    dbPromise = undefined;
    throw e;
  });
  return dbPromise;
}

function tx<T>(stores: string[], mode: IDBTransactionMode, body: (t: IDBTransaction) => IDBRequest<T> | void): Promise<T | undefined> {
  return openSearchDb().then(
    (db) =>
      new Promise<T | undefined>((resolve, reject) => {
        const t = db.transaction(stores, mode, { durability: 'strict' });
        const req = body(t);
        t.oncomplete = () => resolve(req ? req.result : undefined);
        t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
        t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted (is the disk full?)'));
      }),
  );
}

export async function getSearch<T>(id: string): Promise<StoredSearch<T> | undefined> {
  return (await tx([SEARCHES], 'readonly', (t) => t.objectStore(SEARCHES).get(id) as IDBRequest<StoredSearch<T> | undefined>)) ?? undefined;
}

export async function putSearch<T>(search: StoredSearch<T>): Promise<void> {
  await tx([SEARCHES], 'readwrite', (t) => t.objectStore(SEARCHES).put(search));
}

/** Changes some fields of a stored search (no-op when it was deleted meanwhile). */
export async function updateSearch<T>(id: string, patch: Partial<Omit<StoredSearch<T>, 'id'>>): Promise<void> {
  await tx([SEARCHES], 'readwrite', (t) => {
    const store = t.objectStore(SEARCHES);
    const req = store.get(id) as IDBRequest<StoredSearch<T> | undefined>;
    req.onsuccess = () => {
      if (req.result) store.put({ ...req.result, ...patch, id, updatedAt: Date.now() });
    };
  });
}

export async function listSearches<T>(): Promise<StoredSearch<T>[]> {
  const all = (await tx([SEARCHES], 'readonly', (t) => t.objectStore(SEARCHES).getAll() as IDBRequest<StoredSearch<T>[]>)) ?? [];
  return all.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** The finished trials of a search, in the order they were evaluated. */
export async function loadTrials(id: string): Promise<TrialRecord[]> {
  const rows = (await tx([TRIALS], 'readonly', (t) => t.objectStore(TRIALS).index('search').getAll(IDBKeyRange.only(id)) as IDBRequest<TrialRow[]>)) ?? [];
  return rows.sort((a, b) => a.seq - b.seq).map((r) => r.record);
}

/** Removes a search and its trials. */
export async function deleteSearch(id: string): Promise<void> {
  await tx([SEARCHES, TRIALS], 'readwrite', (t) => {
    t.objectStore(SEARCHES).delete(id);
    const trials = t.objectStore(TRIALS);
    const req = trials.index('search').openKeyCursor(IDBKeyRange.only(id));
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return;
      trials.delete(cursor.primaryKey);
      cursor.continue();
    };
  });
}

/**
 * The engine's TrialStore over one search's trials. `append` resolves once the trial is committed
 * (durability "strict": on disk, not only in the browser's cache); a trial appended twice (the same
 * point) keeps its first place.
 */
export function idbTrialStore(id: string): TrialStore {
  let next: number | undefined;
  const seqStart = async () => {
    if (next === undefined) {
      const rows = (await tx([TRIALS], 'readonly', (t) => t.objectStore(TRIALS).index('search').getAll(IDBKeyRange.only(id)) as IDBRequest<TrialRow[]>)) ?? [];
      next = rows.reduce((m, r) => Math.max(m, r.seq + 1), 0);
    }
    return next;
  };
  return {
    load: () => loadTrials(id),
    async append(record) {
      const seq = await seqStart();
      next = seq + 1;
      await tx([TRIALS], 'readwrite', (t) => {
        const store = t.objectStore(TRIALS);
        const have = store.get([id, record.key]) as IDBRequest<TrialRow | undefined>;
        have.onsuccess = () => store.put({ search: id, key: record.key, seq: have.result?.seq ?? seq, record } satisfies TrialRow);
      });
    },
  };
}
