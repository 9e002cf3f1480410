import { isSoupLabError } from '../errors';
import type { CliIO, Command } from './io';
import { loadCommand, loadCommands } from './commands';

async function usage(): Promise<string> {
  const lines = ['usage: souplab <command> [options]', '', 'commands:'];
  for (const c of await loadCommands()) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'souplab <command> --help shows a command\'s options.');
  return lines.join('\n') + '\n';
}

/** Runs one command line; returns the exit code. Used by the binary and by tests. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(await usage());
    return name ? 0 : 2;
  }
  const command: Command | undefined = await loadCommand(name);
  if (!command) {
    io.stderr(`souplab: unknown command '${name}'\n${await usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (isSoupLabError(e)) {
      io.stderr(`souplab ${name}: ${e.message}\n`);
      return e.name === 'CancelledError' ? 130 : 2;
    }
    const err = e as Error;
    io.stderr(`souplab ${name}: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.SOUPLAB_DEBUG) io.stderr(`${err?.stack ?? ''}\n`);
    return 1;
  }
}
