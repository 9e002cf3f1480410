/**
 * The docs say what is: docs/architecture.md's map names every folder under src/ and none that is gone,
 * and every relative link in README.md and docs/*.md leads to a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [join(dir, e.name), ...folders(join(dir, e.name))]);
}

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('the docs', () => {
  it('docs/architecture.md has a row for every folder under src/ and none for a folder that is gone', () => {
    const text = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const rows = [...text.matchAll(/^\| `(src\/[^`]+)` \|/gm)].map((m) => m[1]);
    const tree = folders(join(ROOT, 'src')).map((d) => relative(ROOT, d).split('\\').join('/'));
    expect(tree.filter((d) => !rows.includes(d)), 'folders without a row').toEqual([]);
    expect(rows.filter((r) => !tree.includes(r)), 'rows without a folder').toEqual([]);
  });

  it('every relative link in README.md and docs/*.md leads to a file that exists', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
        const file = target.split('#')[0];
        if (!existsSync(join(ROOT, dirname(page), file))) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
