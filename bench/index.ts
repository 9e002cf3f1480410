/**
 * `npm run bench [-- name…]`: every benchmark, or the named ones. Benchmarks print their numbers
 * and the targets they are held to; they are not part of `npm test`.
 */
import { benchmarks } from './registry';

const wanted = process.argv.slice(2);
const chosen = wanted.length > 0 ? benchmarks.filter((b) => wanted.includes(b.name)) : benchmarks;
if (chosen.length === 0) {
  console.error(`no benchmark named ${wanted.join(', ')}; have: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const b of chosen) {
  console.log(`\n## ${b.name}: ${b.description}`);
  const ok = await b.run();
  if (!ok) failed = true;
}
process.exit(failed ? 1 : 0);
