/**
 * The evaluator's model on the backend asked for (the runtime's createCausalLM), with the Node-side choice:
 * 'auto' takes WebGPU only on a hardware adapter (a software renderer is slower
 * than the CPU path) and says why when it does not. On WebGPU the device is ours, so that the search can
 * soup straight into the model's weights on it.
 */
import { describeAdapter, isSoftwareAdapter, requestAdapter } from '../gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../gpu/device';
import { WebGpuCausalLM } from '../model/gpu/webgpuCausalLM';
import { createCausalLM } from '../model/create';
import type { CausalLM, ModelConfig, WeightSource } from '../model/types';
import { mayHaveGpuDevice, nodeGPU } from './webgpu';

export type ModelBackendChoice = 'auto' | 'cpu' | 'webgpu';

export interface LoadedModel {
  model: CausalLM;
  /** For people: "CPU (f32 reference runtime)", "WebGPU on nvidia / hopper". */
  description: string;
  /** The WebGPU model and its device, for souping straight into its weights. */
  gpu?: { model: WebGpuCausalLM; device: SoupDevice };
  dispose(): Promise<void>;
}

export async function loadEvaluator(
  choice: ModelBackendChoice,
  config: ModelConfig,
  weights: WeightSource,
  options: { signal?: AbortSignal; say?: (line: string) => void; name?: string } = {},
): Promise<LoadedModel> {
  let adapter: GPUAdapter | undefined;
  if (choice === 'webgpu') adapter = await requestAdapter(await nodeGPU()); // no fallback when asked for
  else if (choice === 'auto') {
    try {
      if (!mayHaveGpuDevice()) throw new Error('no GPU device here (no /dev/dri render node, /dev/nvidia* or /dev/dxg)');
      const found = await requestAdapter(await nodeGPU());
      if (isSoftwareAdapter(found)) throw new Error(`the WebGPU adapter (${describeAdapter(found).name}) is a software renderer, slower than the CPU path (--backend webgpu uses it anyway)`);
      adapter = found;
    } catch (e) {
      options.say?.(`note: ${e instanceof Error ? e.message.replace(/: the CPU path will be used$/, '') : String(e)}; evaluating on the CPU`);
    }
  }
  if (adapter) {
    const device = await createSoupDevice(adapter, 'souplab model');
    try {
      const model = (await createCausalLM(config, weights, { backend: 'webgpu', device, signal: options.signal, name: options.name })) as WebGpuCausalLM;
      return { model, description: model.description, gpu: { model, device }, dispose: async () => device.destroy() };
    } catch (e) {
      device.destroy();
      throw e;
    }
  }
  const model = await createCausalLM(config, weights, { backend: 'cpu', signal: options.signal, name: options.name });
  return { model, description: 'CPU (f32 reference runtime)', dispose: async () => undefined };
}
