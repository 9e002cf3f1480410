/**
 * The evaluator's model on the backend asked for: the CPU twin (src/model/cpu) or the WebGPU forward
 * pass. 'auto' takes WebGPU only on a hardware adapter (a software renderer is slower than the CPU path).
 */
import { CpuCausalLM } from '../model/cpu/cpuCausalLM';
import type { CausalLM, ModelConfig, WeightSource } from '../model/types';
import { InputError } from '../errors';

export type ModelBackendChoice = 'auto' | 'cpu' | 'webgpu';

export interface LoadedModel {
  model: CausalLM;
  /** For people: "CPU (f32, 1 thread)". */
  description: string;
  dispose(): Promise<void>;
}

export async function createCausalLM(
  choice: ModelBackendChoice,
  config: ModelConfig,
  weights: WeightSource,
  options: { signal?: AbortSignal; say?: (line: string) => void; name?: string } = {},
): Promise<LoadedModel> {
  if (choice === 'webgpu') {
    throw new InputError('--backend webgpu: the WebGPU forward pass is not part of this build yet; use --backend cpu');
  }
  const model = await CpuCausalLM.load(config, weights, { signal: options.signal, name: options.name });
  return { model, description: 'CPU (f32 reference runtime)', dispose: async () => undefined };
}
