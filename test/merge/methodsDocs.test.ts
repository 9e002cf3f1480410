import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { methodsMarkdown, METHODS_TABLE_END, METHODS_TABLE_PAGE, METHODS_TABLE_START } from '../../src/merge/methods/docs';
import { MERGE_METHODS } from '../../src/merge/methods/registry';

// SOUPLAB_UPDATE_DOCS=1 rewrites the table in the page from the registry instead of failing.
describe(`${METHODS_TABLE_PAGE} lists every registered method with its parameters`, () => {
  const url = new URL(`../../${METHODS_TABLE_PAGE}`, import.meta.url);
  let page = readFileSync(url, 'utf8');
  const start = page.indexOf(METHODS_TABLE_START);
  const end = page.indexOf(METHODS_TABLE_END);
  if (process.env.SOUPLAB_UPDATE_DOCS === '1' && start >= 0 && end > start) {
    page = page.slice(0, start) + methodsMarkdown() + page.slice(end + METHODS_TABLE_END.length);
    writeFileSync(url, page);
  }

  test('the methods table is the one generated from the registry', () => {
    const start = page.indexOf(METHODS_TABLE_START);
    const end = page.indexOf(METHODS_TABLE_END);
    expect(start, `${METHODS_TABLE_PAGE} has the methods table markers`).toBeGreaterThan(0);
    expect(page.slice(start, end + METHODS_TABLE_END.length)).toBe(methodsMarkdown());
  });

  test('each method has a row naming each of its parameters', () => {
    for (const m of MERGE_METHODS) {
      const row = page.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`));
      expect(row, m.name).toBeDefined();
      for (const p of m.parameters) expect(row, `${m.name}: ${p.name}`).toContain(`\`${p.name}\``);
    }
  });

  test('the README points to the table rather than holding a copy', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).not.toContain(METHODS_TABLE_START);
    expect(readme).toContain(METHODS_TABLE_PAGE);
  });
});
