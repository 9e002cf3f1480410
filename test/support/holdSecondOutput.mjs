/**
 * Preloaded (`node --import`) into a `souplab merge` child by tests that interrupt a merge: the second
 * temporary output file the merge opens (created empty, not yet opened for writing) is held until the
 * process receives a signal, and a marker file (SOUPLAB_TEST_HOLD_MARKER) says the merge is held. The
 * test then signals a merge that is certainly mid-way — two temporaries on disk, more to come — on a
 * machine of any speed or load.
 */
import fsp from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const marker = process.env.SOUPLAB_TEST_HOLD_MARKER;
if (marker) {
  let release;
  const signalled = new Promise((r) => (release = r));
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => release());
  const realOpen = fsp.open;
  let temporaries = 0;
  fsp.open = async (path, ...rest) => {
    if (String(path).includes('.partial-') && ++temporaries === 2) {
      writeFileSync(marker, String(process.pid));
      // A pending promise alone does not keep Node running: a timer does, until the signal.
      const alive = setInterval(() => undefined, 1 << 30);
      await signalled;
      clearInterval(alive);
    }
    return realOpen(path, ...rest);
  };
  syncBuiltinESMExports();
}
