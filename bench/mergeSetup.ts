/**
 * The setup the merge benchmarks share (`merge`, `methods`): a scratch folder with room for the inputs,
 * three generated BF16 checkpoints at full and a third of the size, a recipe planned over them, the merge
 * timed with its peak RSS, and the WebGPU soup backend where an adapter exists. One place, so that both
 * benchmarks measure the same inputs the same way.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAdapter, requestAdapter } from '../src/gpu/adapter';
import { createWebGPUSoupBackend } from '../src/merge/gpu/webgpuSoupBackend';
import { SafetensorsWriter, type OutputTensorSpec } from '../src/formats/writer';
import type { SoupBackend } from '../src/merge/kernel';
import { planMerge, type MergePlan } from '../src/merge/plan';
import { parseRecipe, recipeToYaml } from '../src/merge/recipe';
import { runMerge, type RunMergeOptions } from '../src/merge/runMerge';
import { nodeFileSource } from '../src/node/fileSource';
import { nodeFileTarget } from '../src/node/fileTargets';
import { openCheckpointPath, type NodeCheckpoint } from '../src/node/openCheckpointPath';
import { nodeGPU } from '../src/node/webgpu';
import { hasHardwareVulkanDriver, SWIFTSHADER_ICD } from './kernels';
import { PeakRss } from './peakRss';

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** Plausible BF16 weights (magnitudes around 0.01–0.03, both signs), different per seed. */
function fillBf16(out: Uint16Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = 0x3c00 + (s >>> 23) + ((s & 1) << 15);
  }
}

/** A llama-like layout of about `mb` megabytes of BF16 tensors. */
export function layout(mb: number): OutputTensorSpec[] {
  const hidden = 2048;
  const specs: OutputTensorSpec[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [16384, hidden] }];
  let bytes = 16384 * hidden * 2;
  for (let i = 0; bytes < mb * 1e6; i++) {
    for (const [name, rows] of [['self_attn.q_proj', hidden], ['self_attn.o_proj', hidden], ['mlp.up_proj', 5632], ['mlp.down_proj', 5632]] as const) {
      specs.push({ name: `model.layers.${i}.${name}.weight`, dtype: 'BF16', shape: [rows, hidden] });
      bytes += rows * hidden * 2;
    }
    specs.push({ name: `model.layers.${i}.input_layernorm.weight`, dtype: 'BF16', shape: [hidden] });
    bytes += hidden * 2;
  }
  specs.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [hidden] });
  return specs;
}

/** Writes a BF16 checkpoint of `specs`, its values seeded by `seed`. */
export async function generate(path: string, specs: OutputTensorSpec[], seed: number): Promise<void> {
  const writer = await SafetensorsWriter.create(nodeFileTarget(path), specs, { maxShardBytes: Infinity, metadata: { format: 'pt' } });
  const block = new Uint16Array(4 << 20);
  fillBf16(block, seed);
  let k = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    for (let o = 0; o < n; o += block.length) {
      const count = Math.min(block.length, n - o);
      block[0] = (block[0] + 1 + k++) & 0x3fff; // no two chunks alike
      await writer.append(s.name, new Uint8Array(block.buffer, 0, count * 2));
    }
  }
  await writer.finish();
}

/**
 * A fresh scratch folder in os.tmpdir() for a benchmark of three `mb`-MB inputs, or undefined (said on
 * the console, nothing left behind) when the disk has no room for the inputs, their third-size twins
 * and the outputs.
 */
export async function benchScratch(prefix: string, mb: number): Promise<string | undefined> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const free = await statfs(root).then((s) => s.bavail * s.bsize).catch(() => Infinity);
  if (free < mb * 1e6 * 6) {
    console.log(`  not enough space in ${tmpdir()}: ${(free / 1e6).toFixed(0)} MB free, need ${(mb * 6).toFixed(0)} MB`);
    await rm(root, { recursive: true, force: true });
    return undefined;
  }
  return root;
}

export interface GeneratedInputs {
  /** Three checkpoints of about `mb` MB each: model-0…2.safetensors. */
  paths: string[];
  /** Three of a third of the size (small-0…2.safetensors): peak RSS should not grow with the model. */
  smallPaths: string[];
  /** How long generating all six took. */
  seconds: number;
}

/** Generates the benchmark's inputs in `root`: three BF16 checkpoints of `mb` MB and three of `mb` / 3. */
export async function generateInputs(root: string, mb: number): Promise<GeneratedInputs> {
  const big = layout(mb);
  const small = layout(mb / 3);
  const paths = [0, 1, 2].map((k) => join(root, `model-${k}.safetensors`));
  const smallPaths = [0, 1, 2].map((k) => join(root, `small-${k}.safetensors`));
  const g0 = performance.now();
  for (let k = 0; k < 3; k++) {
    await generate(paths[k], big, 11 + k);
    await generate(smallPaths[k], small, 21 + k);
  }
  return { paths, smallPaths, seconds: (performance.now() - g0) / 1000 };
}

/** Opens `paths` (added to `opened`, for the caller to close) and plans the recipe `yaml` over them. */
export async function planRecipe(yaml: string, fileName: string, paths: string[], opened: NodeCheckpoint[]): Promise<MergePlan> {
  const checkpoints = await Promise.all(paths.map((p) => openCheckpointPath(p)));
  opened.push(...checkpoints);
  const { recipe } = parseRecipe(yaml, fileName);
  return planMerge(recipe, new Map(paths.map((p, i) => [p, checkpoints[i]])));
}

export interface TimedMerge {
  /** Wall time. */
  seconds: number;
  /** CPU time of the whole process (every thread: user + system). */
  cpuSeconds: number;
  peakMb: number;
}

/** One merge of `plan` into `outPath` (output re-validated): its wall time, CPU time and peak RSS. */
export async function timedMerge(plan: MergePlan, backend: SoupBackend, outPath: string, tuning: Pick<RunMergeOptions, 'maxJobBytes' | 'maxJobsInFlight'> = {}): Promise<TimedMerge> {
  gc();
  const rss = new PeakRss();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runMerge(plan, {
    backend,
    target: nodeFileTarget(outPath),
    recipeYaml: recipeToYaml(plan.recipe),
    maxShardBytes: Infinity,
    readBack: (name) => nodeFileSource(outPath, name),
    ...tuning,
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const peakMb = rss.stop() / 1e6;
  if (!result.verified) throw new Error('output not verified');
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakMb };
}

/**
 * The WebGPU soup backend, where an adapter exists (undefined, said on the console, where none does),
 * and whether it is a software adapter (SwiftShader: correctness only, its speed says nothing of a GPU).
 * Dawn refuses Mesa's lavapipe; where no hardware Vulkan driver is installed, the SwiftShader that
 * Debian's chromium ships is used, unless VK_ICD_FILENAMES says otherwise.
 */
export async function openGpuSoupBackend(): Promise<{ gpu?: SoupBackend; software: boolean }> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !hasHardwareVulkanDriver()) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  try {
    const adapter = await requestAdapter(await nodeGPU());
    const summary = describeAdapter(adapter);
    const software = summary.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(summary.name);
    return { gpu: await createWebGPUSoupBackend(adapter), software };
  } catch (e) {
    console.log(`  webgpu       not available: ${(e as Error).message}`);
    return { software: false };
  }
}
