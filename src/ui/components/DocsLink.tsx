import type { ReactNode } from 'react';
import { docsUrl, type DocsPage } from './docsLink';

/** A link from the studio's help to a page of the docs shipped with the app, in a new tab. */
export function DocsLink({ page, anchor, children }: { page: DocsPage; anchor?: string; children: ReactNode }) {
  return (
    <a href={docsUrl(page, anchor)} target="_blank" rel="noreferrer" data-testid="docs-link">
      {children}
    </a>
  );
}
