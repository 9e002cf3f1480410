import { InputError } from '../errors';

/** Where a command writes: real streams in the `souplab` binary, buffers in tests. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is a terminal: progress lines are drawn only then. */
  stderrIsTTY: boolean;
  /** Fires on Ctrl-C. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code. Throw InputError for bad input: it is printed as one line, exit 2. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Splits argv into positionals and --flags (`--flag value`, `--flag=value`, booleans listed). */
export function parseArgs(
  args: string[],
  spec: { booleans?: string[]; values?: string[] },
): { positionals: string[]; flags: Map<string, string | true> } {
  const booleans = new Set(spec.booleans ?? []);
  const values = new Set(spec.values ?? []);
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (booleans.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (values.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positionals, flags };
}

export class UsageError extends InputError {
  override name = 'UsageError';
}
