import type { Command } from './io';

/** Every `souplab` command, in the order `souplab --help` lists them. */
export const commands: Command[] = [];
