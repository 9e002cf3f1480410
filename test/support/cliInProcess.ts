/**
 * `souplab` run in the test's own process (runCli, the entry point bin/souplab.js calls), its output
 * captured: for tests of what a command does, without building or spawning the binary.
 */
import type { CliIO } from '../../src/cli/io';
import { runCli } from '../../src/cli/runCli';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `souplab <args>`, stderr not a terminal (no progress bars), cancelled through `signal`. */
export async function cli(args: string[], signal = new AbortController().signal): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTTY: false, signal };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
