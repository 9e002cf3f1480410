/**
 * Real worker threads need compiled JavaScript: builds src/node/cpuWorker.ts the way
 * vite.cli.config.ts does (an SSR bundle) into a temporary folder, for the tests that start them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';

/** The bundle's URL, its folder (room for more files) and a function that removes the folder. */
export async function buildCpuWorker(): Promise<{ url: URL; dir: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'souplab-cpuworker-'));
  await build({
    configFile: false,
    logLevel: 'silent',
    publicDir: false,
    build: {
      ssr: true,
      outDir: dir,
      emptyOutDir: false,
      target: 'node20',
      rollupOptions: { input: { cpuWorker: 'src/node/cpuWorker.ts' }, output: { entryFileNames: '[name].js', format: 'es' } },
    },
  });
  return { url: pathToFileURL(join(dir, 'cpuWorker.js')), dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
