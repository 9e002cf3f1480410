import type { Command } from './io';

/**
 * Every `souplab` command, in the order `souplab --help` lists them, each loaded only when it runs: a
 * command then compiles its own code and not the others' (the model runtime, tokenizers, the search),
 * which on a 2-core machine was a tenth of a second of every `souplab merge` (issue 22 §4).
 */
const loaders: Record<string, () => Promise<Command>> = {
  inspect: () => import('./commands/inspect').then((m) => m.inspectCommand),
  merge: () => import('./commands/merge').then((m) => m.mergeCommand),
  analyze: () => import('./commands/analyze').then((m) => m.analyzeCommand),
  grid: () => import('./commands/grid').then((m) => m.gridCommand),
  eval: () => import('./commands/eval').then((m) => m.evalCommand),
  search: () => import('./commands/search').then((m) => m.searchCommand),
  'extract-lora': () => import('./commands/extractLora').then((m) => m.extractLoraCommand),
};

/** The command called `name`, or undefined when there is none. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(loaders, name) ? loaders[name]() : undefined;
}

/** Every command (for the usage text), in order. */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(Object.values(loaders).map((load) => load()));
}
