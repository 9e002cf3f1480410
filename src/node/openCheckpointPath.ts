import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { INDEX_FILE, openCheckpoint, type Checkpoint } from '../formats/checkpoint';
import type { ByteSource } from '../formats/types';
import { nodeFileSource, type NodeFileSource } from './fileSource';
import { fsInputError } from './fsErrors';

export interface NodeCheckpoint extends Checkpoint {
  /** Closes every file the checkpoint opened. */
  close(): Promise<void>;
}

/**
 * Opens a .safetensors file or a checkpoint folder (sharded with model.safetensors.index.json, or
 * single; the index file's path opens its folder). Reads headers only. Files are named by their path
 * in messages.
 */
export async function openCheckpointPath(path: string): Promise<NodeCheckpoint> {
  // The index file stands for its folder.
  if (basename(path) === INDEX_FILE) path = dirname(path);
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw fsInputError(path, e);
  }
  const sources: NodeFileSource[] = [];
  const closeAll = async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
  try {
    let checkpoint: Checkpoint;
    if (isDir) {
      let entries;
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (e) {
        throw fsInputError(path, e);
      }
      const files = new Map<string, ByteSource>();
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        // Only regular files (and links to them) at the top level: subfolders are not part of a checkpoint.
        if (!entry.isFile() && !entry.isSymbolicLink()) continue;
        // Hidden files (.gitattributes, an interrupted write's .x.partial-…) are not part of the model.
        if (entry.name.startsWith('.')) continue;
        const full = join(path, entry.name);
        if (entry.isSymbolicLink()) {
          const s = await stat(full).catch(() => undefined);
          if (!s?.isFile()) continue;
        }
        const source = await nodeFileSource(full);
        sources.push(source);
        files.set(entry.name, source);
      }
      checkpoint = await openCheckpoint(files, path.replace(/[\\/]+$/, '') || path);
    } else {
      const source = await nodeFileSource(path);
      sources.push(source);
      checkpoint = await openCheckpoint(source, basename(path));
    }
    return Object.assign(checkpoint, { close: closeAll });
  } catch (e) {
    await closeAll();
    throw e;
  }
}
