import { seededUniform } from '../../src/util/random';

/**
 * Generated leaderboards shaped like the ones practitioners download (not real results): the
 * columns, cell formats, coverage and quirks of BFCL v4's data_overall.csv and of the Open LLM
 * Leaderboard v2's contents table, with scores from a documented latent-skill rule. Shared by the
 * unit, CLI and e2e tests.
 */

const pct = (v: number): string => `${(Math.round(Math.min(100, Math.max(0, v)) * 100) / 100).toFixed(2)}%`;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const round2 = (v: number): number => Math.round(v * 100) / 100;

export const BFCL_V4_LEAVES = [
  'Non-Live Simple AST',
  'Non-Live Multiple AST',
  'Non-Live Parallel AST',
  'Non-Live Parallel Multiple AST',
  'Live Simple AST',
  'Live Multiple AST',
  'Live Parallel AST',
  'Live Parallel Multiple AST',
  'Multi Turn Base',
  'Multi Turn Miss Func',
  'Multi Turn Miss Param',
  'Multi Turn Long Context',
  'Web Search Base',
  'Web Search No Snippet',
  'Memory KV',
  'Memory Vector',
  'Memory Recursive Summarization',
  'Relevance Detection',
  'Irrelevance Detection',
];
export const BFCL_V4_LOWER_IS_BETTER = ['Format Sensitivity Max Delta', 'Format Sensitivity Standard Deviation'];
/** Four models that each lead a group of categories; every other model is clearly weaker there. */
export const BFCL_V4_SPECIALISTS = ['ast-champion-70B (FC)', 'agent-pro-32B (FC)', 'memory-keeper-8B (FC)', 'refusal-guard-8B (Prompt)'];

export interface BfclV4 {
  csv: string;
  models: string[];
  /** The models with format-sensitivity scores (40 of 109). */
  withFormatSensitivity: string[];
  /** Per model, its Format Sensitivity Max Delta (null where N/A). */
  maxDelta: (number | null)[];
}

/**
 * 109 models like BFCL v4's overall CSV: group accuracies ("… Acc") are means of their leaves, Overall
 * Acc a weighted mean of the groups; "Format Sensitivity Max Delta" and "… Standard Deviation" (lower
 * is better: weaker models are more sensitive) are filled for 40 models and N/A elsewhere.
 */
export function bfclV4Csv(seed = 4): BfclV4 {
  const rand = seededUniform(seed);
  const n = 109;
  type Row = { model: string; leaves: number[]; delta: number | null; std: number | null; cost: number; latency: number[] };
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const specialist = i < BFCL_V4_SPECIALISTS.length ? i : -1;
    const model = specialist >= 0 ? BFCL_V4_SPECIALISTS[specialist] : `model-${String(i).padStart(3, '0')}-${['8B', '14B', '32B', '70B'][i % 4]} (${i % 3 ? 'FC' : 'Prompt'})`;
    const g = 0.25 + 0.45 * rand();
    // Group skills: a shared general skill plus a group-specific part; specialists get +0.3 in their groups.
    const skill = (group: number): number => Math.min(0.97, 0.6 * g + 0.3 * rand() + (specialist === group ? 0.33 : 0));
    const ast = skill(0);
    const agent = skill(1);
    const memory = skill(2);
    const leaves: number[] = [];
    for (let k = 0; k < 8; k++) leaves.push(100 * Math.min(0.99, ast + 0.06 * rand()));
    for (let k = 0; k < 4; k++) leaves.push(100 * Math.min(0.99, agent - 0.1 + 0.06 * rand()));
    for (let k = 0; k < 2; k++) leaves.push(100 * Math.min(0.99, agent - 0.15 + 0.06 * rand()));
    for (let k = 0; k < 3; k++) leaves.push(100 * Math.min(0.99, memory - 0.1 + 0.06 * rand()));
    leaves.push(100 * Math.min(0.99, 0.7 + 0.25 * rand()));
    // Irrelevance detection runs against calling skill a little (eager callers over-call), as on BFCL.
    leaves.push(100 * Math.min(0.99, specialist === 3 ? 0.97 : 0.9 - 0.2 * g + 0.1 * rand()));
    const hasFormat = i % 2 === 1 && rows.filter((r) => r.delta !== null).length < 40;
    // Lower is better: weak models are the most format-sensitive, so the largest delta is a weak model's.
    const delta = hasFormat ? 4 + 40 * (1 - g) + 3 * rand() : null;
    rows.push({
      model,
      leaves: leaves.map(round2),
      delta: delta === null ? null : round2(delta),
      std: delta === null ? null : round2(delta / 3 + rand()),
      cost: round2(0.5 + 40 * rand()),
      latency: [round2(1 + 10 * rand()), round2(0.5 + 5 * rand()), round2(3 + 20 * rand())],
    });
  }
  const groups = (l: number[]) => ({
    nonLive: mean(l.slice(0, 4)),
    live: mean(l.slice(4, 8)),
    multiTurn: mean(l.slice(8, 12)),
    webSearch: mean(l.slice(12, 14)),
    memory: mean(l.slice(14, 17)),
  });
  const overall = (l: number[]): number => {
    const gr = groups(l);
    return 0.1 * gr.nonLive + 0.1 * gr.live + 0.3 * gr.multiTurn + 0.2 * gr.webSearch + 0.2 * gr.memory + 0.05 * l[17] + 0.05 * l[18];
  };
  rows.sort((a, b) => overall(b.leaves) - overall(a.leaves));
  const header = [
    'Rank',
    'Overall Acc',
    'Model',
    'Model Link',
    'Total Cost ($)',
    'Latency Mean (s)',
    'Latency Standard Deviation (s)',
    'Latency 95th Percentile (s)',
    'Non-Live AST Acc',
    ...BFCL_V4_LEAVES.slice(0, 4),
    'Live Acc',
    ...BFCL_V4_LEAVES.slice(4, 8),
    'Multi Turn Acc',
    ...BFCL_V4_LEAVES.slice(8, 12),
    'Web Search Acc',
    ...BFCL_V4_LEAVES.slice(12, 14),
    'Memory Acc',
    ...BFCL_V4_LEAVES.slice(14, 17),
    ...BFCL_V4_LEAVES.slice(17),
    ...BFCL_V4_LOWER_IS_BETTER,
    'Organization',
    'License',
  ];
  const lines = [header.join(',')];
  rows.forEach((r, rank) => {
    const l = r.leaves;
    const gr = groups(l);
    lines.push(
      [
        String(rank + 1),
        pct(overall(l)),
        r.model,
        `https://huggingface.co/org/${r.model.replace(/\s.*$/, '')}`,
        r.cost.toFixed(2),
        ...r.latency.map((v) => v.toFixed(2)),
        pct(gr.nonLive),
        ...l.slice(0, 4).map(pct),
        pct(gr.live),
        ...l.slice(4, 8).map(pct),
        pct(gr.multiTurn),
        ...l.slice(8, 12).map(pct),
        pct(gr.webSearch),
        ...l.slice(12, 14).map(pct),
        pct(gr.memory),
        ...l.slice(14, 17).map(pct),
        ...l.slice(17).map(pct),
        r.delta === null ? 'N/A' : r.delta.toFixed(2),
        r.std === null ? 'N/A' : r.std.toFixed(2),
        `Org ${rank % 17}`,
        rank % 2 ? 'apache-2.0' : 'Proprietary',
      ].join(','),
    );
  });
  return {
    csv: lines.join('\n') + '\n',
    models: rows.map((r) => r.model),
    withFormatSensitivity: rows.filter((r) => r.delta !== null).map((r) => r.model),
    maxDelta: rows.map((r) => r.delta),
  };
}

/** The Open LLM Leaderboard v2's six benchmarks: raw accuracy and the random-baseline of the normalisation. */
export const OLL_BENCHMARKS: { name: string; baseline: number }[] = [
  { name: 'IFEval', baseline: 0 },
  { name: 'BBH', baseline: 0.25 },
  { name: 'MATH Lvl 5', baseline: 0 },
  { name: 'GPQA', baseline: 0.25 },
  { name: 'MUSR', baseline: 0.33 },
  { name: 'MMLU-PRO', baseline: 0.1 },
];

export const OLL_FAMILIES = [
  { base: 'Qwen/Qwen2.5-7B', short: 'Qwen2.5-7B', arch: 'Qwen2ForCausalLM', params: 7.616 },
  { base: 'meta-llama/Llama-3.1-8B', short: 'Llama-3.1-8B', arch: 'LlamaForCausalLM', params: 8.03 },
  { base: 'mistralai/Mistral-7B-v0.1', short: 'Mistral-7B', arch: 'MistralForCausalLM', params: 7.242 },
  { base: 'google/gemma-2-9b', short: 'gemma-2-9b', arch: 'Gemma2ForCausalLM', params: 9.242 },
  { base: 'Qwen/Qwen2.5-14B', short: 'Qwen2.5-14B', arch: 'Qwen2ForCausalLM', params: 14.77 },
  { base: 'microsoft/phi-4', short: 'phi-4', arch: 'Phi3ForCausalLM', params: 14.66 },
];

export interface OpenLlmLeaderboard {
  csv: string;
  /** Distinct model names in table order. */
  models: string[];
  /** How many rows repeat an earlier model name (another precision of the same model). */
  repeated: number;
  baseOf: Map<string, string>;
}

/**
 * An Open-LLM-Leaderboard-v2-like contents table: `rows` rows over six model families, each benchmark
 * as "X Raw" (accuracy, 0–1) and "X" (normalised over the random baseline, 0–100, clipped at 0),
 * "Average ⬆️" of the normalised six, Base Model / Architecture / #Params (B), and `repeated` models
 * listed twice (bfloat16 and float16). IFEval follows instruction tuning more than general skill, and
 * MUSR is mostly noise: some benchmarks correlate weakly, as on the real leaderboard.
 */
export function openLlmLeaderboardCsv(rows = 3_100, repeated = 40, seed = 2): OpenLlmLeaderboard {
  const rand = seededUniform(seed);
  const header = [
    'eval_name',
    'Precision',
    'Type',
    'Architecture',
    'Model',
    'Average ⬆️',
    'Hub License',
    'Hub ❤️',
    '#Params (B)',
    'Available on the hub',
    'CO₂ cost (kg)',
    ...OLL_BENCHMARKS.flatMap((b) => [`${b.name} Raw`, b.name]),
    'Merged',
    'Submission Date',
    'Generation',
    'Base Model',
  ];
  const lines = [header.join(',')];
  const models: string[] = [];
  const baseOf = new Map<string, string>();
  const unique = rows - repeated;
  const rowFor = (i: number, precision: string, jitter: number): string => {
    const fam = OLL_FAMILIES[i % OLL_FAMILIES.length];
    const r = seededUniform(seed * 100_003 + i);
    const instruct = r() < 0.6;
    const skill = 0.3 + 0.5 * r() + (fam.params > 10 ? 0.1 : 0);
    const rawScores = [
      instruct ? 0.45 + 0.4 * r() : 0.12 + 0.25 * r(),
      0.3 + 0.4 * skill + 0.05 * r(),
      Math.max(0, 0.45 * skill - 0.1 + 0.08 * r()),
      0.25 + 0.1 * skill + 0.05 * r(),
      0.35 + 0.15 * r() + 0.02 * skill,
      0.1 + 0.45 * skill + 0.04 * r(),
    ].map((v) => Math.min(0.99, v + jitter * (r() - 0.5)));
    const normalised = rawScores.map((v, b) => Math.max(0, ((v - OLL_BENCHMARKS[b].baseline) / (1 - OLL_BENCHMARKS[b].baseline)) * 100));
    const name = `lab${i % 97}/${fam.short}-${instruct ? 'instruct' : 'sft'}-${String(i).padStart(4, '0')}`;
    if (!baseOf.has(name)) {
      baseOf.set(name, fam.base);
      models.push(name);
    }
    return [
      `${name.replace('/', '_')}_${precision}`,
      precision,
      instruct ? '"💬 chat models (RLHF, DPO, IFT, ...)"' : '🔶 fine-tuned on domain-specific datasets',
      fam.arch,
      name,
      mean(normalised).toFixed(2),
      i % 2 ? 'apache-2.0' : 'other',
      String(Math.floor(rand() * 800)),
      fam.params.toFixed(3),
      i % 5 ? 'True' : 'False',
      (0.5 + 3 * rand()).toFixed(3),
      ...rawScores.flatMap((v, b) => [v.toFixed(4), normalised[b].toFixed(2)]),
      i % 4 ? 'False' : 'True',
      `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
      String(i % 4),
      fam.base,
    ].join(',');
  };
  for (let i = 0; i < unique; i++) {
    lines.push(rowFor(i, 'bfloat16', 0));
    // Some models were evaluated again in another precision: the same name, slightly different scores.
    if (i % Math.floor(unique / repeated) === 7 && lines.length - 1 - (i + 1) < repeated) lines.push(rowFor(i, 'float16', 0.01));
  }
  return { csv: lines.join('\n') + '\n', models, repeated: lines.length - 1 - unique, baseOf };
}
