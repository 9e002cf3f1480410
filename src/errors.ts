/**
 * Errors meant for people. Anything thrown as a SoupLabError is shown as its message alone, on one
 * line, by the CLI (exit code 2) and the studio; everything else is a bug and is reported as such.
 */
export class SoupLabError extends Error {
  override name = 'SoupLabError';
}

/** Input the user gave us is wrong: a file, a recipe, a table, an argument. */
export class InputError extends SoupLabError {
  override name = 'InputError';
}

/** The user (or a signal) cancelled the work. */
export class CancelledError extends SoupLabError {
  override name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

export function isSoupLabError(e: unknown): e is SoupLabError {
  return e instanceof SoupLabError;
}

/** Throws CancelledError when the signal has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
