import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { methodsMarkdown, METHODS_TABLE_END, METHODS_TABLE_START } from '../../src/merge/methods/docs';
import { MERGE_METHODS } from '../../src/merge/methods/registry';

describe('the README lists every registered method with its parameters', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  test('the methods table is the one generated from the registry', () => {
    const start = readme.indexOf(METHODS_TABLE_START);
    const end = readme.indexOf(METHODS_TABLE_END);
    expect(start, 'README has the methods table markers').toBeGreaterThan(0);
    expect(readme.slice(start, end + METHODS_TABLE_END.length)).toBe(methodsMarkdown());
  });

  test('each method has a row naming each of its parameters', () => {
    for (const m of MERGE_METHODS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`));
      expect(row, m.name).toBeDefined();
      for (const p of m.parameters) expect(row, `${m.name}: ${p.name}`).toContain(`\`${p.name}\``);
    }
  });
});
