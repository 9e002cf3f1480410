/**
 * The studio's merge worker: a dedicated web worker (WebGPU is available there in Chromium), so the
 * page stays responsive while gigabytes stream through. One merge per worker; the page terminates it
 * afterwards. Cancel arrives as a message and aborts the merge; runMerge then removes what it wrote.
 */
import { CancelledError, isSoupLabError } from '../../errors';
import { directoryHandleTarget, fileHandleTarget, opfsSyncFolderTarget, syncAccessAvailable } from '../../formats/fsaTargets';
import type { OutputTarget } from '../../formats/writer';
import { requestAdapter } from '../../gpu/adapter';
import { createWebGPUSoupBackend } from '../../merge/gpu/webgpuSoupBackend';
import { createBrowserCpuBackend } from '../../merge/cpu/browserSpawner';
import type { SoupBackend } from '../../merge/kernel';
import type { MergeProgress } from '../../merge/runMerge';
import { sourceOf } from '../ingredients/openIngredient';
import { OUTPUT_FOLDER } from './browserStorage';
import { runMergeJob } from './mergeJob';
import type { FromWorker, StartRequest, ToWorker } from './protocol';

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker): void;
  close(): void;
  navigator: { gpu?: GPU; storage: StorageManager };
};

/**
 * Progress reaches the page at most this often. Each update repaints the page: measured (bench studio,
 * headless Chromium with a software compositor) ≈ 16 ms of CPU per update across the page, its
 * compositor and the GPU process; at 10 updates a second that was a fifth of the merge's CPU.
 */
const PROGRESS_INTERVAL_MS = 250;

const controller = new AbortController();
let started = false;
/** A CPU backend made before the start (a 'warm' message), its workers loading meanwhile. */
let warm: SoupBackend | undefined;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'cancel') controller.abort();
  else if (msg.type === 'warm' && !started && !warm) {
    // Only the CPU backend: a WebGPU device is not requested before the user asks for a merge.
    if (msg.backend === 'cpu') {
      warm = createBrowserCpuBackend();
      warm.warm?.();
    }
  } else if (msg.type === 'start' && !started) {
    started = true;
    void run(msg);
  }
};

/** The warm backend when it is of the kind asked for; otherwise a new one (and the warm one goes). */
async function takeBackend(kind: StartRequest['backend']): Promise<SoupBackend> {
  const ready = warm;
  warm = undefined;
  if (ready?.kind === kind) return ready;
  await ready?.dispose();
  return makeBackend(kind);
}

async function makeBackend(kind: StartRequest['backend']): Promise<SoupBackend> {
  if (kind === 'webgpu') return createWebGPUSoupBackend(await requestAdapter(scope.navigator.gpu));
  return createBrowserCpuBackend();
}

interface Output {
  target: OutputTarget;
  name: string;
  folder: boolean;
  readBack: (name: string) => ReturnType<typeof sourceOf>;
  dir?: FileSystemDirectoryHandle;
  file?: FileSystemFileHandle;
  /** Removes a folder this worker created, when the merge fails. */
  discard?: () => Promise<void>;
}

async function openOutput(req: StartRequest): Promise<Output> {
  const out = req.output;
  if (out.kind === 'file') {
    return { target: fileHandleTarget(out.file), name: out.file.name, folder: false, readBack: () => sourceOf(out.file, out.file.name), file: out.file };
  }
  let dir: FileSystemDirectoryHandle;
  let discard: (() => Promise<void>) | undefined;
  if (out.kind === 'folder') dir = out.dir;
  else {
    const parent = await (await scope.navigator.storage.getDirectory()).getDirectoryHandle(OUTPUT_FOLDER, { create: true });
    dir = await parent.getDirectoryHandle(out.folder, { create: true });
    discard = () => parent.removeEntry(out.folder, { recursive: true }).catch(() => undefined);
  }
  return {
    // A folder of our own in OPFS: written in place through sync access handles (removed if the merge fails).
    target: out.kind === 'opfs' && syncAccessAvailable() ? opfsSyncFolderTarget(dir) : directoryHandleTarget(dir),
    name: dir.name,
    folder: true,
    readBack: async (name) => sourceOf(await dir.getFileHandle(name), `${dir.name}/${name}`),
    dir,
    discard,
  };
}

async function run(req: StartRequest): Promise<void> {
  let output: Output | undefined;
  let lastPost = 0;
  let pending: MergeProgress | undefined;
  const onProgress = (p: MergeProgress) => {
    pending = p;
    const now = performance.now();
    if (now - lastPost >= PROGRESS_INTERVAL_MS || p.tensorsDone === p.tensorsTotal) {
      lastPost = now;
      scope.postMessage({ type: 'progress', progress: p });
      pending = undefined;
    }
  };
  let backendDescription = '';
  try {
    output = await openOutput(req);
    const r = await runMergeJob(req, {
      backend: async () => {
        const made = await takeBackend(req.backend);
        backendDescription = made.description;
        scope.postMessage({ type: 'backend', description: made.description, kind: made.kind });
        return made;
      },
      target: output.target,
      folder: output.folder,
      readBack: output.readBack,
      signal: controller.signal,
      onProgress,
    });
    if (pending) scope.postMessage({ type: 'progress', progress: pending });
    scope.postMessage({
      type: 'done',
      done: { ...r, backend: backendDescription, outputName: output.name, outputKind: req.output.kind, dir: output.dir, file: output.file },
    });
  } catch (e) {
    await output?.discard?.();
    const cancelled = e instanceof CancelledError || controller.signal.aborted;
    const message = cancelled
      ? 'Merge cancelled; nothing was written.'
      : isSoupLabError(e)
        ? e.message
        : e instanceof DOMException
          ? `${e.name}: ${e.message}`
          : `Unexpected error (a bug in SoupLab): ${e instanceof Error ? e.message : String(e)}`;
    scope.postMessage({ type: 'failed', message, cancelled });
  }
}
