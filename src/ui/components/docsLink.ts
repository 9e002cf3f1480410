/**
 * Where the studio's help links to the docs. The build ships docs/*.md with the app (the `souplabDocs`
 * plugin in vite.config.ts serves them in dev and emits them into dist/app/docs/), so a link works from
 * any host and offline, and always shows the docs of the build that is running; package.json names no
 * repository whose docs a link could point at instead.
 */
export const DOCS_PAGES = ['analysis.md', 'merge-methods.md', 'merge-engine.md', 'evaluation.md', 'model-runtime.md', 'search.md', 'cluster.md', 'benchmarks.md', 'architecture.md'] as const;
export type DocsPage = (typeof DOCS_PAGES)[number];

/** The docs folder below the app's base path. */
export const DOCS_BASE = `${import.meta.env.BASE_URL}docs/`;

/** The URL of a docs page, optionally at one of its headings (GitHub's anchor of the heading). */
export function docsUrl(page: DocsPage, anchor?: string): string {
  return `${DOCS_BASE}${page}${anchor ? `#${anchor}` : ''}`;
}
