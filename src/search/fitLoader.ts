/**
 * How a search soups its points, chosen once before it starts, for the CLI and the studio alike: do the
 * k models + 1 soup fit? On the GPU: the models are uploaded once and each point is souped straight into
 * the model's weight buffers; when they do not fit (the upload fails), or on the CPU: the models are held
 * in memory when they fit the memory budget, else each point streams them from the files. The line it
 * says is the fit check the user reads.
 */
import { CancelledError } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import type { SoupBackend } from '../merge/kernel';
import { CpuCausalLM } from '../model/cpu/cpuCausalLM';
import type { CausalLM } from '../model/types';
import type { SoupDevice } from '../gpu/device';
import type { WebGpuCausalLM } from '../model/gpu/webgpuCausalLM';
import { gpuIngredientBytes, uploadGpuIngredients, type GpuIngredients } from '../merge/gpu/residentSoup';
import { checkpointBytes, gpuSoupLoader, inMemoryCheckpoint, planSoupLoader, type PlannedModel } from './soupLoader';
import type { SoupLoader } from './runSearch';

export interface FitLoaderOptions {
  models: PlannedModel[];
  /** The evaluator's model; `gpu` when it is a WebGPU model on a device of ours. */
  lm: { model: CausalLM; description: string; gpu?: { model: WebGpuCausalLM; device: SoupDevice } };
  soupBackend: SoupBackend;
  /** Bytes this machine can give to hold the models and the soup in memory. */
  memoryBudget: number;
  /** Stream every point from the files even when the models fit. */
  stream?: boolean;
  /**
   * Bytes of GPU memory the search may use (WebGPU does not report a GPU's memory: the user says it).
   * When the ingredients and the model exceed it, they are not uploaded; unset: the upload is tried.
   */
  gpuMemoryBudget?: number;
  bytes: (n: number) => string;
  say: (line: string) => void;
  signal?: AbortSignal;
}

export interface FittedLoader {
  loader: SoupLoader;
  /** Where the points are souped: 'gpu' (resident), 'memory' or 'stream'. */
  where: 'gpu' | 'memory' | 'stream';
  /** The fit check, for people. */
  line: string;
  gpuIngredients?: GpuIngredients;
}

export async function fitSoupLoader(o: FitLoaderOptions): Promise<FittedLoader> {
  const { models, lm, bytes, say } = o;
  const n = models.length;
  if (lm.gpu && !o.stream) {
    const gpuBytes = gpuIngredientBytes(lm.gpu.model, models.map((m) => m.checkpoint));
    const fit = `${n} models on the GPU (${bytes(gpuBytes)}) + the model and its workspace (${bytes(lm.gpu.model.fit.totalBytes)}) = ${bytes(gpuBytes + lm.gpu.model.fit.totalBytes)}`;
    const perPoint = `each point is souped on the CPU and uploaded (${bytes(checkpointBytes(models[0].checkpoint))} per point, in the model's dtype)`;
    if (o.gpuMemoryBudget !== undefined && gpuBytes + lm.gpu.model.fit.totalBytes > o.gpuMemoryBudget) {
      say(`fit (GPU): no: ${n} × ${bytes(gpuBytes / n)} ingredients + the model and its workspace (${bytes(lm.gpu.model.fit.totalBytes)}) do not fit in ${bytes(o.gpuMemoryBudget)} of GPU memory: ${perPoint}`);
    } else {
      try {
        const gpuIngredients = await uploadGpuIngredients(lm.gpu.device, lm.gpu.model, models.map((m) => m.checkpoint), o.signal);
        const line = `fit (GPU): ${fit}: resident; nothing crosses the bus per point`;
        say(line);
        return {
          loader: gpuSoupLoader(gpuIngredients, models, `on the GPU: ${fit}; each point souped by shaders/merge/soup.wgsl straight into the model's weight buffers; evaluated on ${lm.description}`),
          where: 'gpu',
          line,
          gpuIngredients,
        };
      } catch (e) {
        if (e instanceof CancelledError) throw e;
        say(`fit (GPU): no: ${fit} did not fit (${e instanceof Error ? e.message : String(e)}); ${perPoint}`);
      }
    }
  }
  const total = models.map((m) => checkpointBytes(m.checkpoint)).reduce((a, b) => a + b, 0);
  const host = hostFit({ models: n, modelsBytes: total, held: heldModelBytes(models[0].checkpoint, lm.model instanceof CpuCausalLM), budget: o.memoryBudget, bytes });
  const inMemory = host.fits && !o.stream;
  const fitLine = host.text;
  let loaderModels = models;
  let line: string;
  if (inMemory) {
    line = `fit: ${fitLine}: the models are held in memory and each point is souped there, nothing read or written per point`;
    say(line);
    loaderModels = [];
    for (const m of models) loaderModels.push({ ...m, checkpoint: await inMemoryCheckpoint(m.checkpoint, o.signal) });
  } else {
    line = `fit: ${o.stream ? '--stream' : `no: ${fitLine}`}: each point streams its models from the files (${bytes(total)} read per point)`;
    say(line);
  }
  const loader = planSoupLoader(lm.model, loaderModels, o.soupBackend, `${inMemory ? 'in memory' : 'streamed from the files'}; souped on ${o.soupBackend.description}, loaded into the model per point; evaluated on ${lm.description}`);
  return { loader, where: inMemory ? 'memory' : 'stream', line };
}

/**
 * The host side of the fit check, for the CLI and the studio's form alike: the k models held in memory,
 * the evaluated model, the soup's tensors in flight, against what this machine (or page) can give.
 */
export function hostFit(o: { models: number; modelsBytes: number; held: HeldModel; budget: number; bytes: (n: number) => string; giver?: string }): { fits: boolean; needed: number; text: string } {
  // The read-ahead window never holds more than the whole soup as f32.
  const window = Math.min(SOUP_WINDOW_BYTES, o.held.f32Bytes);
  const needed = o.modelsBytes + o.held.bytes + window;
  const { bytes } = o;
  return {
    fits: needed <= o.budget,
    needed,
    text: `${o.models} models (${bytes(o.modelsBytes)}) + the evaluated model (${bytes(o.held.bytes)} ${o.held.as}) + the soup's next tensors (${bytes(window)}) = ${bytes(needed)} of ${bytes(o.budget)} ${o.giver ?? 'this machine can give'}`,
  };
}

/**
 * Host bytes the soup's tensors take while they are computed ahead of the model (soupLoader's readAhead
 * window, with the tensor being encoded): a price, not a measure.
 */
export const SOUP_WINDOW_BYTES = 128 << 20;

/**
 * What the evaluator holds in host memory: the checkpoint's own bytes (16-bit stays 16-bit) for the
 * fast CPU runtime and the WebGPU model (whose weights are on the GPU: counted anyway, as the upload
 * passes through), f32 (`asF32`) for the reference CPU runtime, which keeps every weight as f32.
 */
/** What the evaluator holds (`bytes`, said `as`), and the model's size as f32 (what a whole soup of it takes). */
export interface HeldModel {
  bytes: number;
  as: string;
  f32Bytes: number;
}

export function heldModelBytes(checkpoint: Checkpoint, asF32: boolean): HeldModel {
  let numel = 0;
  for (const t of checkpoint.tensors.values()) numel += t.info.shape.reduce((a, b) => a * b, 1);
  if (asF32) return { bytes: numel * 4, as: 'as f32', f32Bytes: numel * 4 };
  const dtypes = [...new Set([...checkpoint.tensors.values()].map((t) => t.info.dtype))];
  return { bytes: checkpointBytes(checkpoint), as: `in ${dtypes.join('/')}`, f32Bytes: numel * 4 };
}
