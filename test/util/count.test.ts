import { describe, expect, it } from 'vitest';
import { formatCount } from '../../src/util/count';

describe('formatCount', () => {
  it('writes counts below 1000 as they are', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
  });

  it('uses K, M, B and T with two decimals below 10 of a unit, one above', () => {
    expect(formatCount(1000)).toBe('1.00 K');
    expect(formatCount(376_940)).toBe('376.9 K');
    expect(formatCount(494_032_768)).toBe('494.0 M');
    expect(formatCount(8_030_261_248)).toBe('8.03 B');
    expect(formatCount(70.6e9)).toBe('70.6 B');
    expect(formatCount(1.2e12)).toBe('1.20 T');
  });
});
