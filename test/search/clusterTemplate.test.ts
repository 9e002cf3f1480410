import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fillTemplate } from '../../src/search/cluster/template';

describe('the evaluator command template', () => {
  it('puts in any path as one shell word: the shell hands the command exactly the text given', () => {
    // Paths with spaces, quotes, $, backticks, globs and newlines (NUL cannot be in a path).
    const text = fc.string({ unit: fc.constantFrom('a', ' ', "'", '"', '$', '`', '*', '\\', '\n', ';', '{', '}', 'é', '-'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(text, text, (model, out) => {
        const cmd = fillTemplate("printf '%s|%s|%s' {model} {out} {point}", { model, out, point: 'soup-0.5_0.5' });
        expect(execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' })).toBe(`${model}|${out}|soup-0.5_0.5`);
      }),
      { numRuns: 60, seed: 20 },
    );
  });
});
