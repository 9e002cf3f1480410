/**
 * The studio's stores in Node: localStorage as a Map, installed before a store module is loaded (call it
 * from `vi.hoisted`). Returns the Map, for tests that read what a store saved.
 */
export function installMemoryLocalStorage(): Map<string, string> {
  const m = new Map<string, string>();
  (globalThis as { localStorage?: unknown }).localStorage = {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
  return m;
}
