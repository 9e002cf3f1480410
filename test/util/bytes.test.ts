import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/util/bytes';

describe('formatBytes', () => {
  it('writes counts below 1000 as bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(999)).toBe('999 B');
  });

  it('uses decimal units with three significant digits', () => {
    expect(formatBytes(1000)).toBe('1.00 KB');
    expect(formatBytes(1536)).toBe('1.54 KB');
    expect(formatBytes(217_000)).toBe('217 KB');
    expect(formatBytes(45_670_000)).toBe('45.7 MB');
    expect(formatBytes(337_000_000)).toBe('337 MB');
    expect(formatBytes(1_200_000_000)).toBe('1.20 GB');
    expect(formatBytes(5e12)).toBe('5.00 TB');
  });

  it('stops at TB', () => {
    expect(formatBytes(2.5e15)).toBe('2500 TB');
  });

  it('keeps fractional byte rates (bytes per second) readable', () => {
    expect(formatBytes(12_345.6)).toBe('12.3 KB');
  });
});
