import type { Command } from './io';
import { inspectCommand } from './commands/inspect';

/** Every `souplab` command, in the order `souplab --help` lists them. */
export const commands: Command[] = [inspectCommand];
