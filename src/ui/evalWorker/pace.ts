/**
 * The pace of a running Taste or Search as the page sees it: tokens per second while scoring, from the
 * progress counts as they arrive (deltas of one model's or point's count over the page's clock; the
 * time between them — souping, loading — is not scoring and is left out), and the time left at it.
 */
export interface Pace {
  tokens: number;
  seconds: number;
  /** The last count heard, of what (a point's key, a model's index). */
  last: { of: string; tokensDone: number; at: number } | null;
}

export const NO_PACE: Pace = { tokens: 0, seconds: 0, last: null };

/** The pace after a progress count `tokensDone` of `of`, heard at `at` ms. */
export function advancePace(p: Pace, of: string, tokensDone: number, at: number): Pace {
  const last = { of, tokensDone, at };
  if (!p.last || p.last.of !== of || tokensDone < p.last.tokensDone) return { ...p, last };
  return { tokens: p.tokens + (tokensDone - p.last.tokensDone), seconds: p.seconds + Math.max(0, at - p.last.at) / 1000, last };
}

/** Tokens per second so far, once a second of scoring has been seen. */
export function tokensPerSecond(p: Pace): number | undefined {
  return p.seconds >= 1 && p.tokens > 0 ? p.tokens / p.seconds : undefined;
}
