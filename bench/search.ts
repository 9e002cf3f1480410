/**
 * `npm run bench -- search`: issue 11 §5. Generates three BF16 fine-tunes of one base (scripts/tinyModel.ts,
 * Llama layout, ≥ 100 M parameters by default: hidden 768, 12 layers, MLP 3072) in os.tmpdir() and a small
 * task set (multiple choice + a text), then, per backend, in the same run:
 *
 * - the search as SoupLab runs it: the ingredients held in memory (CPU) or resident on the GPU (WebGPU),
 *   each point souped into the loaded model and evaluated — time per point (soup + evaluation);
 * - the same points done the way one does them without SoupLab: merge the soup to disk (runMerge, a
 *   folder with config and tokenizer), load a model from that folder, evaluate — time per point;
 * - the ratio (target ≥ 3× faster) and the wall time of the 37-point grid of 3 ingredients (measured when
 *   SOUPLAB_BENCH_SEARCH_POINTS = 37, else the measured points' mean × 37, and said so).
 *
 * WebGPU runs only on a hardware adapter (SwiftShader is for correctness). Knobs: SOUPLAB_BENCH_SEARCH_HIDDEN,
 * _LAYERS, _MLP (model size), SOUPLAB_BENCH_SEARCH_POINTS (default 3 on the CPU, 37 on a GPU),
 * SOUPLAB_BENCH_SEARCH_TASKS=tiny (one multiple-choice item instead of the task set: the souping cost alone).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareTasks, scoreTasks } from '../src/eval/evaluate';
import { parseTaskFile } from '../src/eval/taskFile';
import { weightGrid } from '../src/analysis/grid';
import { carriedFiles } from '../src/merge/carriedFiles';
import type { SoupBackend } from '../src/merge/kernel';
import { runMerge } from '../src/merge/runMerge';
import { soupWeightSource } from '../src/merge/soupWeights';
import { openModel } from '../src/model/load';
import { createNodeCpuBackend } from '../src/node/cpuWorkers';
import { modelFilesOf } from '../src/node/evalModel';
import { nodeFolderTarget } from '../src/node/fileTargets';
import { loadEvaluator, type LoadedModel } from '../src/node/modelBackend';
import { openCheckpointPath, type NodeCheckpoint } from '../src/node/openCheckpointPath';
import { mayHaveGpuDevice } from '../src/node/webgpu';
import { uploadGpuIngredients } from '../src/merge/gpu/residentSoup';
import { gpuSoupLoader, inMemoryCheckpoint, planPoint, planSoupLoader, type PlannedModel } from '../src/search/soupLoader';
import type { SoupLoader } from '../src/search/runSearch';
import { generatedLlama } from './generatedLlama';
import { wantBackend } from './model';
import { PeakRss } from './peakRss';
import type { Benchmark } from './registry';

const RATIO_TARGET = 3;
const env = (name: string, fallback: number) => Number(process.env[`SOUPLAB_BENCH_SEARCH_${name}`] ?? fallback);

const TASKS = [
  parseTaskFile(
    'facts.jsonl',
    [
      { query: 'The quick brown fox jumps over the', choices: ['lazy dog.', 'moon', 'red car'], gold: 0 },
      { query: 'A soup of models is the average of their', choices: ['weights.', 'names', 'dogs'], gold: 0 },
      { query: 'Two plus two is', choices: ['four', 'five', 'twenty-two'], gold: 0 },
      { query: 'The sky is', choices: ['blue', 'green', 'made of cheese'], gold: 0 },
    ]
      .map((i) => JSON.stringify(i))
      .join('\n'),
  ),
  parseTaskFile('prose.txt', 'The quick brown fox jumps over the lazy dog. A soup of models is the average of their weights, and a good soup can be better than each of its ingredients on every category.'),
];

export const searchBenchmark: Benchmark = {
  name: 'search',
  description: 'search per grid point in memory / on the GPU vs merging each soup to disk and evaluating it from the file',
  async run() {
    const hidden = env('HIDDEN', 768);
    const layers = env('LAYERS', 12);
    const mlp = env('MLP', 3072);
    const dir = await mkdtemp(join(tmpdir(), 'souplab-bench-search-'));
    const opened: NodeCheckpoint[] = [];
    let ok = true;
    try {
      let params = 0;
      for (const [i, delta] of [101, 102, 103].entries()) {
        const m = await generatedLlama({ hidden, layers, intermediate: mlp, kvHeads: hidden / 192 }, { seed: 100, deltaSeed: delta });
        const folder = join(dir, `ft-${i}`);
        mkdirSync(folder);
        for (const [name, bytes] of m.files) writeFileSync(join(folder, name), bytes);
        opened.push(await openCheckpointPath(folder));
      }
      for (const t of opened[0].tensors.values()) params += t.info.shape.reduce((a, b) => a * b, 1);
      const { config, tokenizer } = await modelFilesOf(opened[0], 'ft-0');
      const taskFiles = process.env.SOUPLAB_BENCH_SEARCH_TASKS === 'tiny' ? [parseTaskFile('one.jsonl', JSON.stringify({ query: 'Two plus two is', choices: ['four', 'five'], gold: 0 }))] : TASKS;
      const { tasks } = prepareTasks(tokenizer, taskFiles, config.maxPositionEmbeddings);
      const tokens = tasks.reduce((s, t) => s + (t.kind === 'multiple_choice' ? t.items.reduce((a, it) => a + it.choices.reduce((b, c) => b + c.sequence.length - 1, 0), 0) : t.documents.reduce((a, d) => a + d.tokens, 0)), 0);
      console.log(`model: Llama layout, hidden ${hidden}, ${layers} layers, MLP ${mlp}: ${(params / 1e6).toFixed(1)} M parameters, BF16; 3 fine-tunes of one base`);
      console.log(`tasks: ${tasks.map((t) => t.name).join(', ')} (${tokens} tokens scored per point)`);

      const fileModels: PlannedModel[] = opened.map((c, i) => ({ name: `ft-${i}`, path: join(dir, `ft-${i}`), checkpoint: c }));
      const grid = weightGrid(3).points;
      const backends: ('cpu' | 'webgpu')[] = wantBackend('cpu') ? ['cpu'] : [];
      if (!wantBackend('webgpu')) console.log('webgpu: skipped (SOUPLAB_BENCH_BACKENDS)');
      else if (mayHaveGpuDevice()) backends.push('webgpu');
      else console.log('webgpu: skipped (no GPU device here; SwiftShader is for correctness, not speed)');
      for (const kind of backends) {
        const points = grid.slice(0, Math.min(37, env('POINTS', kind === 'cpu' ? 3 : 37)));
        const soupBackend = createNodeCpuBackend();
        let lm: LoadedModel | undefined;
        const rss = new PeakRss();
        try {
          const inMemory = await Promise.all(fileModels.map(async (m) => ({ ...m, checkpoint: await inMemoryCheckpoint(m.checkpoint) })));
          const t0 = performance.now();
          lm = await loadEvaluator(kind, config, soupWeightSource(planPoint(inMemory, [1, 0, 0]), soupBackend), { name: 'bench' });
          const loadSeconds = (performance.now() - t0) / 1000;
          if (kind === 'webgpu' && !lm.gpu) {
            console.log('webgpu: no hardware adapter; skipped');
            continue;
          }
          let loader: SoupLoader;
          if (lm.gpu) loader = gpuSoupLoader(await uploadGpuIngredients(lm.gpu.device, lm.gpu.model, inMemory.map((m) => m.checkpoint)), inMemory, 'GPU');
          else loader = planSoupLoader(lm.model, inMemory, soupBackend, 'memory');
          console.log(`\n${kind}: ${lm.description}; model loaded in ${loadSeconds.toFixed(1)} s`);

          // SoupLab: soup into the loaded model, evaluate.
          const ours = await timePoints(points.map((p) => p.weights), async (w) => {
            const a = performance.now();
            await loader.load(w);
            const b = performance.now();
            await scoreTasks(lm!.model, tasks);
            return { soup: (b - a) / 1000, eval: (performance.now() - b) / 1000 };
          });
          // Without: merge to disk, load a model from the folder, evaluate.
          const viaDisk = await timePoints(points.map((p) => p.weights), async (w, i) => {
            const a = performance.now();
            const out = join(dir, `soup-${kind}-${i}`);
            const plan = planPoint(fileModels, w);
            await runMerge(plan, { backend: soupBackend as SoupBackend, target: nodeFolderTarget(out), extraFiles: await carriedFiles(plan) });
            const b = performance.now();
            const c = await openCheckpointPath(out);
            let fresh: LoadedModel | undefined;
            try {
              const m = await openModel(c);
              fresh = await loadEvaluator(kind, m.config, m.weights);
              const d = performance.now();
              await scoreTasks(fresh.model, tasks);
              return { soup: (b - a) / 1000, load: (d - b) / 1000, eval: (performance.now() - d) / 1000 };
            } finally {
              fresh?.model.dispose();
              await fresh?.dispose();
              await c.close();
              await rm(out, { recursive: true, force: true });
            }
          });
          const per = ours.mean;
          const perDisk = viaDisk.mean;
          const ratio = perDisk / per;
          const measured = points.length === 37;
          console.log(`  per point, SoupLab:   ${per.toFixed(2)} s (soup ${ours.parts.soup.toFixed(2)} s + evaluation ${ours.parts.eval.toFixed(2)} s), over ${points.length} points`);
          console.log(`  per point, via disk:  ${perDisk.toFixed(2)} s (merge to disk ${viaDisk.parts.soup.toFixed(2)} s + load from the file ${(viaDisk.parts.load ?? 0).toFixed(2)} s + evaluation ${viaDisk.parts.eval.toFixed(2)} s)`);
          console.log(`  37-point grid:        ${(measured ? ours.total : per * 37).toFixed(1)} s SoupLab, ${(measured ? viaDisk.total : perDisk * 37).toFixed(1)} s via disk${measured ? '' : ` (${points.length} points measured, × 37)`}`);
          console.log(`  ratio:                ${ratio.toFixed(2)}× faster (target ≥ ${RATIO_TARGET}×)${ratio >= RATIO_TARGET ? '' : ' — MISSED'}`);
          console.log(`  souping alone:        ${(viaDisk.parts.soup + (viaDisk.parts.load ?? 0)).toFixed(2)} s via disk vs ${ours.parts.soup.toFixed(2)} s: ${((viaDisk.parts.soup + (viaDisk.parts.load ?? 0)) / ours.parts.soup).toFixed(1)}× (the evaluation is the same work on both sides)`);
          console.log(`  peak RSS:             ${(rss.stop() / 2 ** 20).toFixed(0)} MiB`);
          if (ratio < RATIO_TARGET) ok = false;
        } finally {
          rss.stop();
          lm?.model.dispose();
          await lm?.dispose();
          await soupBackend.dispose();
        }
      }
    } finally {
      await Promise.all(opened.map((c) => c.close()));
      await rm(dir, { recursive: true, force: true });
    }
    return ok;
  },
};

async function timePoints(points: number[][], run: (w: number[], i: number) => Promise<Record<string, number>>): Promise<{ mean: number; total: number; parts: Record<string, number> }> {
  const parts: Record<string, number> = {};
  let total = 0;
  for (const [i, w] of points.entries()) {
    const t = await run(w, i);
    for (const [k, v] of Object.entries(t)) {
      parts[k] = (parts[k] ?? 0) + v / points.length;
      total += v;
    }
  }
  return { mean: total / points.length, total, parts };
}

