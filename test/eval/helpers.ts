import type { CliIO } from '../../src/cli/io';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { openModelPath } from '../../src/node/openModelPath';
import { writeTinyModel as writeTinyModelFiles } from '../../scripts/writeTinyModel';
import type { TinyModelOptions } from '../../scripts/tinyModel';

/** Writes a generated tiny model (config, safetensors, a real tokenizer.json) into `dir`; returns `dir`. */
export async function writeTinyModel(dir: string, options: TinyModelOptions): Promise<string> {
  await writeTinyModelFiles(dir, options);
  return dir;
}

/** The runtime's CPU model and tokenizer of a model folder. */
export async function loadCpuModel(dir: string) {
  const opened = await openModelPath(dir);
  const model = await CpuCausalLM.load(opened.config, opened.weights);
  await opened.close();
  return { model, tokenizer: opened.tokenizer!, config: opened.config };
}

/** A CliIO that collects output; `abortAfter` fires the signal when stderr first matches. */
export function captureIO(abortWhen?: RegExp): CliIO & { out: () => string; err: () => string; controller: AbortController } {
  let out = '';
  let err = '';
  const controller = new AbortController();
  return {
    stdout: (t) => void (out += t),
    stderr: (t) => {
      err += t;
      if (abortWhen && abortWhen.test(err)) controller.abort();
    },
    stderrIsTTY: false,
    signal: controller.signal,
    out: () => out,
    err: () => err,
    controller,
  };
}

/** A corpus-like set of multiple-choice items in SoupLab's JSONL shape (written for these tests). */
export const MC_ITEMS = [
  { query: 'The quick brown fox jumps over the', choices: ['lazy dog.', 'moon', 'red car'], gold: 0 },
  { query: 'A soup of models is the average of their', choices: ['weights.', 'names', 'dogs'], gold: 0 },
  { query: 'Answer: ', choices: ['Paris', 'Rome'], gold: 1 },
  { query: 'Two plus two is', choices: [' four', 'five', 'twenty-two'], gold: 0 },
  { query: 'Café au', choices: ['lait', 'café', 'thé'], gold: 0 },
  { query: 'The sky is', choices: ['blue', 'green', 'made of cheese'], gold: 0 },
];
