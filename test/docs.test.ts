/**
 * The docs say what is: docs/architecture.md's map names every folder under src/ and none that is gone;
 * every relative link in README.md and docs/*.md, and every link from the studio's help, leads to a page
 * that exists and, with an anchor, to one of its headings.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS_PAGES } from '../src/ui/components/docsLink';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [join(dir, e.name), ...folders(join(dir, e.name))]);
}

/** GitHub's anchor of a Markdown heading. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
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
        const [file, anchor] = target.split('#');
        const path = join(ROOT, dirname(page), file);
        if (!existsSync(path)) broken.push(`${page}: ${target}`);
        else if (anchor !== undefined && file.endsWith('.md') && !anchors(path).includes(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("the studio's help links to pages the build ships, at headings they have", () => {
    expect(DOCS_PAGES.filter((p) => !existsSync(join(ROOT, 'docs', p)))).toEqual([]);
    const links = sourceFiles(join(ROOT, 'src/ui')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/<DocsLink page="([^"]+)"(?: anchor="([^"]+)")?/g)].map((m) => ({ f, page: m[1], anchor: m[2] })));
    expect(links.length).toBeGreaterThanOrEqual(4);
    const broken = links.filter(({ page, anchor }) => !existsSync(join(ROOT, 'docs', page)) || (anchor !== undefined && !anchors(join(ROOT, 'docs', page)).includes(anchor)));
    expect(broken).toEqual([]);
  });
});
