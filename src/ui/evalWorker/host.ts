/**
 * The worker side shared by the studio's evaluation workers (Taste, Search): one job per worker, started
 * by a 'start' message and aborted by 'cancel'; the model made on the chosen backend (WebGPU is
 * available in a dedicated worker in Chromium; the CPU runtime runs here too); the soup backend; and
 * errors turned into messages for people. The page terminates the worker after the job.
 */
import { CancelledError, isSoupLabError } from '../../errors';
import { requestAdapter } from '../../gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../gpu/device';
import type { WebGpuCausalLM } from '../../model/gpu/webgpuCausalLM';
import { createBrowserCpuBackend } from '../../merge/cpu/browserSpawner';
import type { SoupBackend } from '../../merge/kernel';
import { createCausalLM } from '../../model/create';
import type { CausalLM, ModelConfig, WeightSource } from '../../model/types';

export type EvalBackend = 'webgpu' | 'cpu';

interface Scope<In, Out> {
  onmessage: ((e: MessageEvent<In>) => void) | null;
  postMessage(msg: Out): void;
  navigator: { gpu?: GPU };
}

/** A loaded model; on WebGPU with its own device (a search soups straight into the model's weight buffers on it). */
export interface WorkerModel {
  model: CausalLM;
  description: string;
  gpu?: { model: WebGpuCausalLM; device: SoupDevice };
  dispose(): void;
}

export interface JobContext<Out> {
  signal: AbortSignal;
  post(msg: Out): void;
  soupBackend: SoupBackend;
  /** `ownDevice`: open the WebGPU device here and hand it back (to soup into the model's buffers); else the model owns its device. */
  createModel(backend: EvalBackend, config: ModelConfig, weights: WeightSource, opts: { name: string; signal?: AbortSignal; ownDevice?: boolean }): Promise<WorkerModel>;
}

/**
 * Serves one job in this worker: `run` gets the start request; when it settles, `done` (or a 'failed'
 * message made by `failed`) is posted. `cancelledText` is what the user reads after a cancel.
 */
export function serveOneJob<Start extends { type: 'start' }, Out>(
  run: (req: Start, ctx: JobContext<Out>) => Promise<Out>,
  failed: (message: string, cancelled: boolean) => Out,
  cancelledText: string,
): void {
  const scope = self as unknown as Scope<Start | { type: 'cancel' }, Out>;
  const controller = new AbortController();
  let started = false;
  const createModel: JobContext<Out>['createModel'] = async (backend, config, weights, { name, signal, ownDevice }) => {
    if (backend === 'cpu' || !ownDevice) {
      const model = await createCausalLM(config, weights, { backend, signal, name, gpu: scope.navigator.gpu });
      const description = backend === 'cpu' ? 'CPU (f32 reference runtime, in a web worker)' : ((model as { description?: string }).description ?? 'WebGPU');
      return { model, description, dispose: () => model.dispose() };
    }
    const device = await createSoupDevice(await requestAdapter(scope.navigator.gpu), 'souplab model');
    try {
      const model = (await createCausalLM(config, weights, { backend: 'webgpu', device, signal, name })) as WebGpuCausalLM;
      return {
        model,
        description: model.description,
        gpu: { model, device },
        dispose: () => {
          model.dispose();
          device.destroy();
        },
      };
    } catch (e) {
      device.destroy();
      throw e;
    }
  };
  scope.onmessage = (e) => {
    const msg = e.data;
    if (msg.type === 'cancel') controller.abort();
    else if (msg.type === 'start' && !started) {
      started = true;
      void (async () => {
        const soupBackend = createBrowserCpuBackend();
        try {
          scope.postMessage(await run(msg as Start, { signal: controller.signal, post: (m) => scope.postMessage(m), soupBackend, createModel }));
        } catch (err) {
          const cancelled = err instanceof CancelledError || controller.signal.aborted;
          scope.postMessage(failed(cancelled ? cancelledText : failureMessage(err), cancelled));
        } finally {
          await soupBackend.dispose().catch(() => undefined);
        }
      })();
    }
  };
}

/** An error as the user reads it: SoupLab's own messages as they are, anything else named as what it is. */
export function failureMessage(e: unknown): string {
  return isSoupLabError(e)
    ? e.message
    : e instanceof DOMException
      ? `${e.name}: ${e.message}`
      : `Unexpected error (a bug in SoupLab): ${e instanceof Error ? e.message : String(e)}`;
}

/** Drops updates closer than `ms` apart unless `force` says this one matters (the last of a run). */
export function throttle<T>(post: (v: T) => void, ms: number): (v: T, force?: boolean) => void {
  let last = 0;
  return (v, force = false) => {
    const now = performance.now();
    if (!force && now - last < ms) return;
    last = now;
    post(v);
  };
}
