/**
 * Evaluates a model on task files: encodes every item once (prepareTasks: the tokens do not depend on
 * the weights, so a search encodes once and scores many soups), then scores the prepared tasks in
 * batches with progress and cancellation between batches (scoreTasks).
 */
import { throwIfAborted } from '../errors';
import type { CausalLM, TextTokenizer } from '../model/types';
import { continuationLogLikelihood, decideItem, encodeItem, type EncodedItem, type MultipleChoiceItemResult } from './multipleChoice';
import { documentTotals, encodeDocument, perplexityScores, rollingWindows, windowLogLikelihood, type PerplexityScores, type Window } from './perplexity';
import type { TaskFile } from './taskFile';

export type PreparedTask =
  | { name: string; file: string; kind: 'multiple_choice'; items: EncodedItem[] }
  | { name: string; file: string; kind: 'perplexity'; documents: PreparedDocument[] };

export interface PreparedDocument {
  line: number;
  text: string;
  windows: Window[];
  tokens: number;
  bytes: number;
  words: number;
}

export interface MultipleChoiceItemScore extends MultipleChoiceItemResult {
  /** The item's line in its file. */
  line: number;
}

export interface MultipleChoiceResult {
  name: string;
  file: string;
  kind: 'multiple_choice';
  acc: number;
  acc_norm: number;
  items: MultipleChoiceItemScore[];
}

export interface DocumentScore {
  line: number;
  nll: number;
  tokens: number;
  bytes: number;
  words: number;
}

export interface PerplexityResult extends PerplexityScores {
  name: string;
  file: string;
  kind: 'perplexity';
  documents: DocumentScore[];
}

export type TaskResult = MultipleChoiceResult | PerplexityResult;

export interface EvalProgress {
  tokensDone: number;
  tokensTotal: number;
  /** The task being scored. */
  task: string;
}

/**
 * Encodes the tasks for a model whose context is `maxLength` tokens. Items that cannot be scored (too
 * long, nothing to score) are left out and reported as problem lines; the file's own problems are
 * passed through. Tasks left with nothing to score are dropped (their problem says why).
 */
export function prepareTasks(tokenizer: TextTokenizer, files: TaskFile[], maxLength: number): { tasks: PreparedTask[]; problems: string[] } {
  const problems: string[] = [];
  const tasks: PreparedTask[] = [];
  const prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  for (const f of files) {
    problems.push(...f.problems);
    if (f.kind === 'multiple_choice') {
      const items: EncodedItem[] = [];
      for (const item of f.items) {
        const e = encodeItem(tokenizer, item, maxLength);
        if (typeof e === 'string') problems.push(`${f.file} line ${item.line}: ${e}`);
        else items.push(e);
      }
      if (items.length > 0) tasks.push({ name: f.name, file: f.file, kind: 'multiple_choice', items });
      else if (f.items.length > 0) problems.push(`${f.file}: no item could be scored`);
    } else {
      const documents: PreparedDocument[] = [];
      for (const d of f.documents) {
        const tokens = encodeDocument(tokenizer, d.text);
        if (tokens.length === 0) {
          problems.push(`${f.file} line ${d.line}: the text has no tokens`);
          continue;
        }
        if (prefix === null) {
          problems.push(`${f.file}: the tokenizer has neither a bos nor an eos token to start a text with`);
          break;
        }
        documents.push({ line: d.line, text: d.text, windows: rollingWindows(tokens, prefix, maxLength), tokens: tokens.length, ...documentTotals(d.text) });
      }
      if (documents.length > 0) tasks.push({ name: f.name, file: f.file, kind: 'perplexity', documents });
    }
  }
  return { tasks, problems };
}

/** Tokens fed to the model to score the tasks: the unit of progress. */
export function tokensToScore(tasks: PreparedTask[]): number {
  let n = 0;
  for (const t of tasks) {
    if (t.kind === 'multiple_choice') for (const it of t.items) for (const c of it.choices) n += c.sequence.length - 1;
    else for (const d of t.documents) for (const w of d.windows) n += w.sequence.length - 1;
  }
  return n;
}

export interface ScoreTasksOptions {
  signal?: AbortSignal;
  onProgress?: (p: EvalProgress) => void;
  /** Tokens per scoreTokens call (default 2048): progress and cancellation happen between calls. */
  batchTokens?: number;
}

/** Scores every prepared task on the model as it is loaded now. */
export async function scoreTasks(model: CausalLM, tasks: PreparedTask[], options: ScoreTasksOptions = {}): Promise<TaskResult[]> {
  const { signal } = options;
  const batchTokens = Math.max(1, options.batchTokens ?? 2048);
  const tokensTotal = tokensToScore(tasks);
  let tokensDone = 0;
  const results: TaskResult[] = [];
  for (const task of tasks) {
    const sequences: Int32Array[] =
      task.kind === 'multiple_choice' ? task.items.flatMap((it) => it.choices.map((c) => c.sequence)) : task.documents.flatMap((d) => d.windows.map((w) => w.sequence));
    const logProbs: Float32Array[] = [];
    let start = 0;
    while (start < sequences.length) {
      throwIfAborted(signal);
      let end = start;
      let tokens = 0;
      while (end < sequences.length && (end === start || tokens + sequences[end].length - 1 <= batchTokens)) tokens += sequences[end++].length - 1;
      const done = tokensDone;
      const out = await model.scoreTokens(sequences.slice(start, end), {
        signal,
        onProgress: (d) => options.onProgress?.({ tokensDone: done + Math.min(d, tokens), tokensTotal, task: task.name }),
      });
      logProbs.push(...out);
      tokensDone += tokens;
      options.onProgress?.({ tokensDone, tokensTotal, task: task.name });
      start = end;
    }
    throwIfAborted(signal);
    results.push(task.kind === 'multiple_choice' ? multipleChoiceResult(task, logProbs) : perplexityResult(task, logProbs));
  }
  return results;
}

function multipleChoiceResult(task: Extract<PreparedTask, { kind: 'multiple_choice' }>, logProbs: Float32Array[]): MultipleChoiceResult {
  let k = 0;
  const items = task.items.map((it): MultipleChoiceItemScore => {
    const lls = it.choices.map((c) => continuationLogLikelihood(c, logProbs[k++]));
    return { line: it.item.line, ...decideItem(it.item, lls) };
  });
  return { name: task.name, file: task.file, kind: 'multiple_choice', ...accuracies(items), items };
}

/** acc and acc_norm of some item scores (NaN for none). */
export function accuracies(items: readonly MultipleChoiceItemResult[]): { acc: number; acc_norm: number } {
  let acc = 0;
  let norm = 0;
  for (const it of items) {
    if (it.pred === it.gold) acc++;
    if (it.pred_norm === it.gold) norm++;
  }
  return { acc: acc / items.length, acc_norm: norm / items.length };
}

function perplexityResult(task: Extract<PreparedTask, { kind: 'perplexity' }>, logProbs: Float32Array[]): PerplexityResult {
  let k = 0;
  const documents = task.documents.map((d): DocumentScore => {
    let ll = 0;
    for (const w of d.windows) ll += windowLogLikelihood(w, logProbs[k++]);
    return { line: d.line, nll: -ll, tokens: d.tokens, bytes: d.bytes, words: d.words };
  });
  return { name: task.name, file: task.file, kind: 'perplexity', ...perplexityOf(documents), documents };
}

/** Perplexity scores of some documents, pooled (Σ nll over Σ tokens / bytes / words, as lm-eval pools). */
export function perplexityOf(documents: readonly DocumentScore[]): PerplexityScores {
  const sum = (f: (d: DocumentScore) => number) => documents.reduce((s, d) => s + f(d), 0);
  return perplexityScores({ nll: sum((d) => d.nll), tokens: sum((d) => d.tokens), bytes: sum((d) => d.bytes), words: sum((d) => d.words) });
}
