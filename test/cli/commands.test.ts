import { describe, expect, it } from 'vitest';
import { loadCommand, loadCommands } from '../../src/cli/commands';
import type { CliIO } from '../../src/cli/io';
import { runCli } from '../../src/cli/runCli';

function capture(): CliIO & { out: string; err: string } {
  const io = { out: '', err: '', stderrIsTTY: false, signal: new AbortController().signal, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe('souplab commands, each loaded when it runs', () => {
  it('finds every listed command under its own name, and no other', async () => {
    const all = await loadCommands();
    expect(all.map((c) => c.name)).toEqual(['inspect', 'merge', 'analyze', 'grid', 'eval', 'search', 'extract-lora']);
    for (const c of all) expect((await loadCommand(c.name))?.name).toBe(c.name);
    expect(await loadCommand('toString')).toBeUndefined();
    expect(await loadCommand('mergee')).toBeUndefined();
  });

  it('lists every command in the usage, and names an unknown one', async () => {
    const help = capture();
    expect(await runCli(['--help'], help)).toBe(0);
    for (const c of await loadCommands()) expect(help.out).toContain(`  ${c.name.padEnd(10)} ${c.summary}`);
    const unknown = capture();
    expect(await runCli(['mrege'], unknown)).toBe(2);
    expect(unknown.err).toMatch(/^souplab: unknown command 'mrege'\nusage: souplab <command>/);
  });
});
