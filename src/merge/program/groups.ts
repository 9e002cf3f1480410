/**
 * Groups of elements that share statistics: the whole tensor, each row (the last dimension,
 * contiguous), or each column (for a 2-D tensor; in general every index but the first, which is what
 * torch's transpose(0, −1) then a reduction over the last dimension gives).
 */
export type Grouping = 'tensor' | 'row' | 'column';

export interface Groups {
  count: number;
  /** The group of element e. */
  of(e: number): number;
}

export function groupsOf(grouping: Grouping, shape: number[]): Groups {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (grouping === 'tensor' || shape.length < 2 || numel === 0) return { count: 1, of: () => 0 };
  if (grouping === 'row') {
    const len = shape[shape.length - 1];
    return { count: numel / len, of: (e) => Math.floor(e / len) };
  }
  const stride = numel / shape[0];
  return { count: stride, of: (e) => e % stride };
}
