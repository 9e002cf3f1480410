// The studio's tokens/s during a Taste or a Search: counts over the page's clock, per model or point,
// the time between them (souping, loading) left out. Timestamps are given, not measured.
import { expect, test } from 'vitest';
import { paceText } from '../../src/eval/estimate';
import { advancePace, NO_PACE, tokensPerSecond } from '../../src/ui/evalWorker/pace';

test('tokens per second from the counts of each point, not across points', () => {
  let p = advancePace(NO_PACE, 'a', 0, 1000);
  p = advancePace(p, 'a', 500, 1500);
  expect(tokensPerSecond(p)).toBeUndefined(); // half a second seen: not yet
  p = advancePace(p, 'a', 1000, 2000);
  expect(tokensPerSecond(p)).toBe(1000);
  // The next point starts 10 s later (souping): its first count starts a new delta, the gap is not scoring.
  p = advancePace(p, 'b', 200, 12_000);
  expect(tokensPerSecond(p)).toBe(1000);
  p = advancePace(p, 'b', 3200, 14_000);
  expect(tokensPerSecond(p)).toBe(4000 / 3);
  // A count that goes back (the same key scored again after a resume) starts over too.
  p = advancePace(p, 'b', 100, 15_000);
  expect(p.tokens).toBe(4000);
  expect(paceText(1530.4)).toBe('1,530 tokens/s');
});
