/**
 * Large generated BF16 models for the memory tests (a real shape, seeded values, written in seconds):
 * the config, tokenizer files and one model.safetensors of a tinyModel shape.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyModelConfig, type TinyModelOptions } from '../../scripts/tinyModel';
import { parseModelConfig } from '../../src/model/config';
import { modelTensors } from '../../src/model/weights';
import { SafetensorsWriter } from '../../src/formats/writer';
import { nodeFolderTarget } from '../../src/node/fileTargets';

/**
 * Seeded BF16 values straight from their bits (a Gaussian per weight takes minutes at this size):
 * matrices uniform-ish in ±[2^-7, 2^-5) (about 1/√896), norms 1, biases small.
 */
function bf16Tensor(role: string, numel: number, seed: number): Uint8Array {
  const out = new Uint16Array(numel);
  if (role === 'norm') return new Uint8Array(out.fill(0x3f80).buffer);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < numel; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    // sign, exponent 120–123 (2^-7 … 2^-4), 7 mantissa bits
    out[i] = ((s >>> 31) << 15) | ((120 + ((s >>> 7) & 3)) << 7) | (s & 0x7f);
  }
  return new Uint8Array(out.buffer);
}

/** Writes the model into `folder`; returns the size of its model.safetensors. `seed` varies the values (a fine-tune of the same shape). */
export async function writeBf16Model(folder: string, shape: TinyModelOptions, name: string, seed = 1): Promise<number> {
  const { config, tokenizer } = tinyModelConfig(shape);
  const tensors = modelTensors(parseModelConfig(config, `${name}/config.json`));
  const target = nodeFolderTarget(folder);
  const writer = await SafetensorsWriter.create(target, tensors.map((t) => ({ name: t.name, dtype: 'BF16', shape: t.shape })), { metadata: { format: 'pt' }, maxShardBytes: Infinity });
  let s = seed;
  for (const t of tensors) await writer.append(t.name, bf16Tensor(t.role, t.shape.reduce((a, b) => a * b, 1), s++));
  await writer.finish();
  const text = (file: string, o: unknown) => writeFileSync(join(folder, file), `${JSON.stringify(o, null, 2)}\n`);
  text('config.json', config);
  text('tokenizer.json', tokenizer.tokenizerJson);
  text('tokenizer_config.json', tokenizer.tokenizerConfig);
  return statSync(join(folder, 'model.safetensors')).size;
}

/** A script for `node --require` that writes the process's peak RSS (KiB) into `rssFile` when it exits. */
export function peakRssScript(dir: string, rssFile: string): string {
  const path = join(dir, 'rss.cjs');
  writeFileSync(path, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
  return path;
}
