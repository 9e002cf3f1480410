/**
 * How a search soups its points, chosen once before it starts, for the CLI and the studio alike: do the
 * k models + 1 soup fit? On the GPU: the models are uploaded once and each point is souped straight into
 * the model's weight buffers; when they do not fit (the upload fails), or on the CPU: the models are held
 * in memory when they fit the memory budget, else each point streams them from the files. The line it
 * says is the fit check the user reads.
 */
import { CancelledError } from '../errors';
import type { SoupBackend } from '../merge/kernel';
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
    const soup = soupBytesOf(models[0]);
    const perPoint = `each point is souped on the CPU and uploaded (${bytes(soup / 2)}–${bytes(soup)} per point)`;
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
  const soupBytes = soupBytesOf(models[0]);
  const needed = total + 2 * soupBytes; // the models, the loaded f32 model, one soup being built
  const inMemory = needed <= o.memoryBudget && !o.stream;
  const fitLine = `${n} models (${bytes(total)}) + the soup (${bytes(soupBytes)} as f32, twice while it is replaced) = ${bytes(needed)} of ${bytes(o.memoryBudget)} this machine can give`;
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

/** The soup as f32: 4 bytes per parameter of the reference model. */
function soupBytesOf(m: PlannedModel): number {
  let n = 0;
  for (const t of m.checkpoint.tensors.values()) n += t.info.shape.reduce((a, b) => a * b, 1);
  return n * 4;
}
