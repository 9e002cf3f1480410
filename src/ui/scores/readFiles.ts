import type { TextFile } from '../../analysis';
import { formatBytes } from '../../util/bytes';

/** Score and trial tables are small; a file this big is almost surely the wrong one (a checkpoint). */
export const MAX_TABLE_BYTES = 64e6;

/** Reads dropped or picked files as text, refusing ones too large to be a table. */
export async function readTextFiles(files: Iterable<File>): Promise<TextFile[]> {
  const out: TextFile[] = [];
  for (const f of files) {
    if (f.size > MAX_TABLE_BYTES)
      throw new Error(`${f.name}: ${formatBytes(f.size)} is too large for a score table (at most ${formatBytes(MAX_TABLE_BYTES)}); is it the right file?`);
    out.push({ name: f.name, text: await f.text() });
  }
  return out;
}
