/**
 * How much memory a search may take in this browser to hold its models: a quarter of the device's
 * memory (navigator.deviceMemory, which browsers cap at 8 GB), at most 4 GB; 4 GB assumed when the
 * browser does not say. A page and a worker see the same value.
 */
export function browserMemoryBudget(): number {
  const gb = (globalThis.navigator as (Navigator & { deviceMemory?: number }) | undefined)?.deviceMemory ?? 4;
  return Math.min(4e9, gb * 0.25 * 2 ** 30);
}
