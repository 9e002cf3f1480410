import { setMaxListeners } from 'node:events';
import { removeTemporariesNow } from '../node/fileTargets';
import type { CliIO } from './io';
import { runCli } from './runCli';

// The `souplab` binary (bin/souplab.js loads the bundle of this file).
const controller = new AbortController();
// Every job in flight listens for the cancel (two per worker thread, and more with --threads): not
// the leak Node's default warning at 11 listeners suspects, and its message must not reach the user.
setMaxListeners(0, controller.signal);
// Ctrl-C, and what `timeout`, Docker, Slurm and a closed terminal send: the first lets the command
// cancel and clean up (no partial output); a second quits at once, removing this process's
// temporaries on the way out (the 'exit' handler below).
const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
let received: string | undefined;
for (const [signal, code] of Object.entries(EXIT_CODES)) {
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(code);
    received = signal;
    controller.abort();
  });
}
process.on('exit', removeTemporariesNow);
const io: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  signal: controller.signal,
};
runCli(process.argv.slice(2), io).then(
  // Dawn keeps handles alive: exit explicitly once stdout is flushed.
  // A cancelled command says 130 (Ctrl-C); after SIGTERM or SIGHUP the shell's code for that signal.
  (code) => void process.stdout.write('', () => process.exit(code === 130 && received ? EXIT_CODES[received] : code)),
  () => process.exit(1),
);
