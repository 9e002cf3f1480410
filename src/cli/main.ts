import type { CliIO } from './io';
import { runCli } from './runCli';

// The `souplab` binary (bin/souplab.js loads the bundle of this file).
const controller = new AbortController();
process.on('SIGINT', () => {
  // A second Ctrl-C quits at once; the first lets the command clean up (no partial output).
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});
const io: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  signal: controller.signal,
};
runCli(process.argv.slice(2), io).then(
  // Dawn keeps handles alive: exit explicitly once stdout is flushed.
  (code) => void process.stdout.write('', () => process.exit(code)),
  () => process.exit(1),
);
