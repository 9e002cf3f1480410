/**
 * One entry point to a CausalLM on either backend, for the evaluator, the search, the CLI and the
 * studio: `createCausalLM(config, weights, { backend: 'webgpu' | 'cpu' })`. The WebGPU model runs on
 * the device given (share the soup backend's to soup into its resident weights), else on a new device
 * of the adapter given, else of `gpu` (navigator.gpu in a browser; Node passes the `webgpu` package's).
 */
import { requestAdapter } from '../gpu/adapter';
import type { SoupDevice } from '../gpu/device';
import { WebGpuCausalLM } from './gpu/webgpuCausalLM';
import { CpuCausalLM } from './cpu/cpuCausalLM';
import type { CausalLM, ModelConfig, ScoreOptions, WeightSource } from './types';

export type ModelBackend = 'webgpu' | 'cpu';

export interface CreateCausalLMOptions {
  backend: ModelBackend;
  /** The model's name in messages. */
  name?: string;
  signal?: AbortSignal;
  /** Loading progress (tensors uploaded, on WebGPU). */
  onProgress?: ScoreOptions['onProgress'];
  /** WebGPU: the device to load onto (its weights are then writable by a soup backend on the same device). */
  device?: SoupDevice;
  /** WebGPU: the adapter to open a device on, when no device is given. */
  adapter?: GPUAdapter;
  /** WebGPU: where to find an adapter when neither is given (default: navigator.gpu). */
  gpu?: GPU;
  /** WebGPU: tokens per scoring batch (default 512). */
  batchTokens?: number;
  /** WebGPU: refuse a model whose estimated GPU memory exceeds this many bytes. */
  memoryBudgetBytes?: number;
}

export async function createCausalLM(config: ModelConfig, weights: WeightSource, options: CreateCausalLMOptions): Promise<CausalLM> {
  if (options.backend === 'cpu') return CpuCausalLM.load(config, weights, { signal: options.signal, name: options.name });
  const adapter = options.device || options.adapter ? options.adapter : await requestAdapter(options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu);
  return WebGpuCausalLM.create(config, weights, {
    device: options.device,
    adapter,
    batchTokens: options.batchTokens,
    memoryBudgetBytes: options.memoryBudgetBytes,
    signal: options.signal,
    onProgress: options.onProgress,
    name: options.name,
  });
}
