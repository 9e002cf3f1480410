/**
 * The studio's Taste worker: scores the soup and its ingredients off the main thread (WebGPU is available
 * in a dedicated worker in Chromium; the CPU runtime runs here too). One run per worker; the page
 * terminates it afterwards. Cancel arrives as a message and aborts between scoring batches.
 */
import { CancelledError, isSoupLabError } from '../../errors';
import { createBrowserCpuBackend } from '../../merge/cpu/browserSpawner';
import type { SoupBackend } from '../../merge/kernel';
import { createCausalLM } from '../../model/create';
import type { FromTasteWorker, TasteProgress, TasteRequest, ToTasteWorker } from './protocol';
import { runTasteJob } from './tasteJob';

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToTasteWorker>) => void) | null;
  postMessage(msg: FromTasteWorker): void;
  navigator: { gpu?: GPU };
};

const controller = new AbortController();
let started = false;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'cancel') controller.abort();
  else if (msg.type === 'start' && !started) {
    started = true;
    void run(msg);
  }
};

async function run(req: TasteRequest): Promise<void> {
  let soupBackend: SoupBackend | undefined;
  let lastPost = 0;
  const onProgress = (p: TasteProgress) => {
    const now = performance.now();
    if (now - lastPost < 80 && p.phase === 'scoring' && p.tokensDone < p.tokensTotal) return;
    lastPost = now;
    scope.postMessage({ type: 'progress', progress: p });
  };
  try {
    soupBackend = createBrowserCpuBackend();
    await runTasteJob(req, {
      soupBackend,
      signal: controller.signal,
      async createModel(config, weights, signal) {
        if (req.backend === 'webgpu') {
          const model = await createCausalLM(config, weights, { backend: 'webgpu', gpu: scope.navigator.gpu, signal, name: req.soupName });
          return { model, description: (model as { description?: string }).description ?? 'WebGPU' };
        }
        const model = await createCausalLM(config, weights, { backend: 'cpu', signal, name: req.soupName });
        return { model, description: 'CPU (f32 reference runtime, in a web worker)' };
      },
      onStart: (info) => scope.postMessage({ type: 'started', ...info }),
      onProgress,
      onModel: (result) => scope.postMessage({ type: 'model', result }),
    });
    scope.postMessage({ type: 'done' });
  } catch (e) {
    const cancelled = e instanceof CancelledError || controller.signal.aborted;
    const message = cancelled
      ? 'Tasting cancelled; the models scored before it are kept.'
      : isSoupLabError(e)
        ? e.message
        : e instanceof DOMException
          ? `${e.name}: ${e.message}`
          : `Unexpected error (a bug in SoupLab): ${e instanceof Error ? e.message : String(e)}`;
    scope.postMessage({ type: 'failed', message, cancelled });
  } finally {
    await soupBackend?.dispose().catch(() => undefined);
  }
}
