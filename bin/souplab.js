#!/usr/bin/env node
// The `souplab` command: runs the bundled CLI (built by `npm ci` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/node/cli.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('souplab: the CLI is not built yet; run `npm run build:cli` in the SoupLab folder\n');
  process.exit(2);
}
await import(pathToFileURL(entry).href);
