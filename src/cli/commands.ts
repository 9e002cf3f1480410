import type { Command } from './io';
import { inspectCommand } from './commands/inspect';
import { mergeCommand } from './commands/merge';
import { analyzeCommand } from './commands/analyze';
import { gridCommand } from './commands/grid';
import { evalCommand } from './commands/eval';
import { searchCommand } from './commands/search';
import { extractLoraCommand } from './commands/extractLora';

/** Every `souplab` command, in the order `souplab --help` lists them. */
export const commands: Command[] = [inspectCommand, mergeCommand, analyzeCommand, gridCommand, evalCommand, searchCommand, extractLoraCommand];
