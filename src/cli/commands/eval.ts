import { InputError } from '../../errors';
import { estimatePlan, measurePace, slowPlanWarning } from '../../eval/estimate';
import { prepareTasks, tokensToScore, type EvalProgress, type TaskResult } from '../../eval/evaluate';
import { evaluateModels } from '../../eval/evaluateModels';
import { categoryScore, formatScore, scoreTableCsv, type ChoiceMetric } from '../../eval/scores';
import type { SoupBackend } from '../../merge/kernel';
import { createNodeCpuBackend } from '../../node/cpuWorkers';
import { openEvalModel } from '../../node/evalModel';
import { loadEvaluator, type ModelBackendChoice } from '../../node/modelBackend';
import { readTaskFiles } from '../../node/taskFiles';
import { parseArgs, UsageError, type CliIO, type Command } from '../io';
import { maxLengthFlag, metricFlag } from '../evalFlags';

/** Evaluations shorter than this many tokens are not priced first (even a slow CPU scores them within the hour). */
const LONG_EVAL_TOKENS = 10_000;

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a model folder or a recipe (souped in memory) on task files: multiple choice and perplexity',
  usage: [
    'souplab eval <model folder | recipe.yaml> --tasks <files or folders> [--backend webgpu|cpu] [--json] [--metric acc_norm|acc] [--max-length N]',
    '',
    'Scores multiple-choice JSONL ({"query","choices","gold"}, or ARC / HellaSwag / PIQA / MMLU fields) the way',
    'lm-evaluation-harness does (acc, and acc_norm divided by the choice\'s UTF-8 byte length), and perplexity over',
    '.txt files or JSONL with a "text" field (rolling windows; per token, byte and word). A recipe is souped in',
    'memory, tensor by tensor, and never written. Bad items are reported one per line (exit 2); the rest are scored.',
    '  --tasks       task files or folders of them (.jsonl, .txt); each file is one category',
    '  --backend     webgpu or cpu (default: WebGPU when a hardware adapter exists, else the CPU)',
    '  --json        print {"model","backend","tasks":[…]} with per-item log-likelihoods',
    '  --metric      the multiple-choice score in the summary and score table (default acc_norm)',
    '  --max-length  the context in tokens (default: the model\'s max_position_embeddings)',
    '  --scores-csv  also write the result as a one-row score table (Model, one column per task)',
    '  --output-path DIR  also write lm-evaluation-harness\'s layout: DIR/<model>/results_<date>.json and',
    '                samples_<task>_<date>.jsonl (doc_id and per-sample acc, acc_norm or perplexity pairs)',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, { booleans: ['json', 'quiet'], values: ['tasks', 'backend', 'metric', 'max-length', 'scores-csv', 'output-path'] });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give a model folder or a recipe.yaml' : `expected one model, got ${positionals.length} arguments`);
    const tasksArg = flags.get('tasks');
    if (typeof tasksArg !== 'string' || tasksArg === '') throw new UsageError('--tasks is required: task files or folders (comma-separated)');
    const backendArg = flags.get('backend');
    if (backendArg !== undefined && backendArg !== 'webgpu' && backendArg !== 'cpu') throw new UsageError(`--backend must be webgpu or cpu, got '${String(backendArg)}'`);
    const metric = metricFlag(flags.get('metric'));
    const json = flags.get('json') === true;
    const say = (line: string) => {
      if (flags.get('quiet') !== true) io.stderr(`${line}\n`);
    };

    const { files } = readTaskFiles(tasksArg.split(',').map((s) => s.trim()).filter(Boolean));
    let soupBackend: SoupBackend | undefined;
    const model = await openEvalModel(positionals[0], async () => (soupBackend ??= createNodeCpuBackend()));
    try {
      const maxLength = maxLengthFlag(flags.get('max-length'), model.config.maxPositionEmbeddings);
      const { tasks, problems } = prepareTasks(model.tokenizer, files, maxLength);
      for (const p of problems) io.stderr(`${p}\n`);
      if (model.plan) say(`souping ${model.plan.ingredients.length} models in memory (${model.plan.recipe.method}); nothing is written`);
      const showProgress = !(json || !io.stderrIsTTY || flags.get('quiet') === true);
      let progress: ReturnType<typeof progressLine> | undefined;
      let backendName = '';
      let description = '';
      let results: TaskResult[];
      try {
        [{ results }] = await evaluateModels({
          config: model.config,
          tasks,
          models: [{ name: positionals[0], weights: model.weights }],
          createModel: async (config, weights, signal) => {
            const lm = await loadEvaluator((backendArg as ModelBackendChoice | undefined) ?? 'auto', config, weights, { signal, say });
            return { model: lm.model, description: lm.description, dispose: async () => {
              lm.model.dispose();
              await lm.dispose();
            } };
          },
          onLoaded: async (lm) => {
            backendName = lm.model.backend;
            description = lm.description;
            // A long evaluation on the CPU is priced from a short warm-up, and the faster alternatives named.
            if (lm.model.backend === 'cpu' && tokensToScore(tasks) > LONG_EVAL_TOKENS) {
              const warning = slowPlanWarning(estimatePlan(tasks, 1, await measurePace(lm.model, tasks, { signal: io.signal, sampleTokens: 64 })), lm.model.backend);
              if (warning) io.stderr(`warning: ${warning}\n`);
            }
            if (showProgress) progress = progressLine(io);
          },
          onProgress: (p) => {
            if (p.phase === 'scoring') progress?.update(p);
          },
          signal: io.signal,
        });
      } finally {
        progress?.clear();
      }
      if (json) io.stdout(`${JSON.stringify(evalJson(positionals[0], backendName, results))}\n`);
      else io.stdout(summary(positionals[0], description, results, metric));
      const csv = flags.get('scores-csv');
      if (typeof csv === 'string') {
        const { writeAtomically } = await import('../../node/trialStore');
        await writeAtomically(csv, scoreTableCsv([{ model: positionals[0], scores: Object.fromEntries(results.map((r) => [r.name, categoryScore(r, metric)])) }], results.map((r) => r.name)));
      }
      const outputPath = flags.get('output-path');
      if (typeof outputPath === 'string') {
        const { writeLmEvalOutput } = await import('../../node/lmEvalFiles');
        const written = await writeLmEvalOutput(outputPath, positionals[0], results, tasks, files);
        say(`wrote ${written} (lm-evaluation-harness layout)`);
      }
      if (results.length === 0 && problems.length === 0) throw new InputError('nothing to score');
      return problems.length > 0 ? 2 : 0;
    } finally {
      await soupBackend?.dispose().catch(() => undefined);
      await model.close();
    }
  },
};

/** The --json shape (scripts use these names): exactly these fields. */
export function evalJson(model: string, backend: string, results: TaskResult[]): unknown {
  return {
    model,
    backend,
    tasks: results.map((r) =>
      r.kind === 'multiple_choice'
        ? { name: r.name, kind: r.kind, acc: r.acc, acc_norm: r.acc_norm, items: r.items.map((i) => ({ loglikelihoods: i.loglikelihoods, gold: i.gold, pred: i.pred, pred_norm: i.pred_norm })) }
        : { name: r.name, kind: r.kind, perplexity: r.perplexity, tokens: r.tokens, nll: r.nll },
    ),
  };
}

function summary(model: string, backend: string, results: TaskResult[], metric: ChoiceMetric): string {
  const lines = [`${model} (${backend})`];
  for (const r of results) {
    if (r.kind === 'multiple_choice') lines.push(`  ${r.name.padEnd(24)} acc ${formatScore(100 * r.acc)} %  acc_norm ${formatScore(100 * r.acc_norm)} %  (${r.items.length} items)`);
    else lines.push(`  ${r.name.padEnd(24)} perplexity ${formatScore(r.perplexity)} per token, ${formatScore(r.byte_perplexity)} per byte, ${formatScore(r.word_perplexity)} per word; ${formatScore(r.bits_per_byte)} bits/byte (${r.tokens} tokens)`);
  }
  lines.push(`  score table row (${metric} %, perplexity as −bits/byte): ${results.map((r) => `${r.name} ${formatScore(categoryScore(r, metric))}`).join(', ')}`);
  return lines.join('\n') + '\n';
}

function progressLine(io: CliIO): { update: (p: EvalProgress) => void; clear: () => void } {
  let last = 0;
  let drawn = false;
  const started = performance.now();
  return {
    update(p) {
      const now = performance.now();
      if (now - last < 100 && p.tokensDone < p.tokensTotal) return;
      last = now;
      const s = (now - started) / 1000;
      const rate = p.tokensDone / Math.max(s, 1e-9);
      const eta = p.tokensDone > 0 ? Math.round((p.tokensTotal - p.tokensDone) / rate) : undefined;
      io.stderr(`\rscoring ${p.task}: ${p.tokensDone}/${p.tokensTotal} tokens  ${Math.round(rate)} tokens/s  ETA ${eta === undefined ? '--' : `${eta} s`}\x1b[K`);
      drawn = true;
    },
    clear() {
      if (drawn) io.stderr('\r\x1b[K');
    },
  };
}
