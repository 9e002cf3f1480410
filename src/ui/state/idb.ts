import type { StateStorage } from 'zustand/middleware';

/**
 * A tiny key-value store in IndexedDB. It holds what localStorage cannot: structured-cloneable values
 * such as FileSystemHandles (kept across reloads, permission asked again) and large score tables.
 */
const DB_NAME = 'souplab';
const STORE = 'kv';

let dbPromise: Promise<IDBDatabase> | undefined;

function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB is not available'));
  });
  return dbPromise;
}

function request<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return openDb().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = op(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      }),
  );
}

export function idbGet<T>(key: string): Promise<T | undefined> {
  return request('readonly', (s) => s.get(key) as IDBRequest<T | undefined>);
}

export async function idbSet(key: string, value: unknown): Promise<void> {
  await request('readwrite', (s) => s.put(value, key));
}

export async function idbDelete(key: string): Promise<void> {
  await request('readwrite', (s) => s.delete(key));
}

/** For zustand's persist middleware: `storage: createJSONStorage(() => idbStateStorage)`. */
export const idbStateStorage: StateStorage = {
  getItem: async (name) => (await idbGet<string>(name)) ?? null,
  setItem: (name, value) => idbSet(name, value),
  removeItem: (name) => idbDelete(name),
};
