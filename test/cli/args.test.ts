import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/cli/io';

describe('parseArgs', () => {
  it('separates positionals, value flags and boolean flags', () => {
    const { positionals, flags } = parseArgs(['a.safetensors', '--json', '--tau', '0.2', '--mode=paper', 'b'], {
      booleans: ['json'],
      values: ['tau', 'mode'],
    });
    expect(positionals).toEqual(['a.safetensors', 'b']);
    expect(flags.get('json')).toBe(true);
    expect(flags.get('tau')).toBe('0.2');
    expect(flags.get('mode')).toBe('paper');
  });

  it('refuses unknown options and missing values with a usage error', () => {
    expect(() => parseArgs(['--nope'], {})).toThrow(UsageError);
    expect(() => parseArgs(['--tau'], { values: ['tau'] })).toThrow('--tau needs a value');
    expect(() => parseArgs(['--json=1'], { booleans: ['json'] })).toThrow('--json takes no value');
  });
});
