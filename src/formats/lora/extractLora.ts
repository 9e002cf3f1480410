/**
 * A rank-r PEFT LoRA adapter from a model's difference to its base (what mergekit-extract-lora offers):
 * per 2-D weight, D = W_model − W_base, a truncated SVD D ≈ U·Σ·Vᵀ gives lora_B = U·√Σ [out, r] and
 * lora_A = √Σ·Vᵀ [r, in], with lora_alpha = r (scale 1). Embeddings and 1-D tensors that changed (norms,
 * biases) cannot be low-rank factors in PEFT: their modules go to modules_to_save as full tensors.
 * One tensor pair is in memory at a time; the factors are small. Reports the energy ‖D_r‖²/‖D‖² kept.
 */
import { CancelledError, InputError, throwIfAborted } from '../../errors';
import { truncatedSvd } from '../../util/truncatedSvd';
import { SINGLE_FILE, type Checkpoint, type CheckpointTensor } from '../checkpoint';
import { isFloatDtype, type FloatDtype } from '../dtype';
import { decodeToF32, encodeFromF32 } from '../floatArrays';
import { printable } from '../header';
import { SafetensorsWriter, type OutputTarget, type OutputTensorSpec } from '../writer';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './adapterConfig';

export interface ExtractedTensor {
  name: string;
  shape: number[];
  /** lora: rank-r factors; full: the whole tensor (modules_to_save); unchanged: equal to the base. */
  kind: 'lora' | 'full' | 'unchanged';
  /** For lora: the share of ‖D‖² the kept singular values hold (1 = exact). */
  keptEnergy?: number;
}

export interface ExtractLoraOptions {
  rank: number;
  /** Recorded as base_model_name_or_path. */
  baseModelName: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, tensor: string) => void;
}

export interface ExtractLoraResult {
  tensors: ExtractedTensor[];
  files: string[];
}

const PREFIX = 'base_model.model.';

const isEmbedding = (name: string) => /(^|\.)(embed_tokens|wte|wpe|word_embeddings|embeddings)\./.test(name);
const moduleOf = (name: string) => name.slice(0, name.lastIndexOf('.'));

async function readF64(t: CheckpointTensor): Promise<Float64Array> {
  const bytes = await t.source.read(t.info.byteOffset, t.info.byteLength);
  const dtype = t.info.dtype as FloatDtype;
  if (dtype === 'F64') return new Float64Array(bytes.slice().buffer);
  return Float64Array.from(decodeToF32(dtype, bytes));
}

export async function extractLora(base: Checkpoint, model: Checkpoint, target: OutputTarget, opts: ExtractLoraOptions): Promise<ExtractLoraResult> {
  const { rank, signal } = opts;
  if (!Number.isInteger(rank) || rank < 1) throw new InputError(`the LoRA rank must be a whole number of at least 1, got ${rank}`);
  for (const [name, t] of model.tensors) {
    const b = base.tensors.get(name);
    if (!b) throw new InputError(`${printable(model.name)}: tensor ${printable(name)} is not in the base ${printable(base.name)}; a LoRA adapter can only change the base's tensors`);
    if (b.info.shape.join() !== t.info.shape.join()) {
      throw new InputError(`${printable(model.name)}: tensor ${printable(name)} has shape [${t.info.shape.join(', ')}], the base ${printable(base.name)} has [${b.info.shape.join(', ')}]`);
    }
  }

  const report: ExtractedTensor[] = [];
  const factors = new Map<string, { a: Float32Array; b: Float32Array; out: number; in: number }>();
  const full = new Set<string>();
  const floats = [...model.tensors].filter(([, t]) => isFloatDtype(t.info.dtype));
  let done = 0;
  for (const [name, t] of floats) {
    throwIfAborted(signal);
    opts.onProgress?.(done++, floats.length, name);
    const w = await readF64(t);
    const w0 = await readF64(base.tensors.get(name)!);
    const d = new Float64Array(w.length);
    let energy = 0;
    for (let i = 0; i < w.length; i++) {
      d[i] = w[i] - w0[i];
      energy += d[i] * d[i];
    }
    if (energy === 0) {
      report.push({ name, shape: t.info.shape, kind: 'unchanged' });
      continue;
    }
    if (!Number.isFinite(energy)) throw new InputError(`${printable(model.name)}: tensor ${printable(name)} differs from the base by non-finite values (NaN or ±Inf); no LoRA can hold that`);
    if (t.info.shape.length !== 2 || isEmbedding(name) || !name.endsWith('.weight')) {
      full.add(name);
      report.push({ name, shape: t.info.shape, kind: 'full' });
      continue;
    }
    const [out, inF] = t.info.shape;
    const svd = truncatedSvd(d, out, inF, rank);
    let kept = 0;
    const a = new Float32Array(rank * inF);
    const b = new Float32Array(out * rank);
    for (let r = 0; r < svd.k; r++) {
      kept += svd.s[r] ** 2;
      const root = Math.sqrt(svd.s[r]);
      for (let i = 0; i < inF; i++) a[r * inF + i] = root * svd.vt[r * inF + i];
      for (let o = 0; o < out; o++) b[o * rank + r] = svd.u[o * svd.k + r] * root;
    }
    // Ranks above min(out, in) stay zero rows of A and columns of B: every module has rank r, as PEFT expects.
    factors.set(name, { a, b, out, in: inF });
    report.push({ name, shape: t.info.shape, kind: 'lora', keptEnergy: Math.min(1, kept / energy) });
  }
  opts.onProgress?.(done, floats.length, '');

  // A module whose bias or norm changed goes to modules_to_save whole, its weight included.
  const savedModules = new Set([...full].map(moduleOf));
  for (const name of [...factors.keys()]) {
    if (!savedModules.has(moduleOf(name))) continue;
    factors.delete(name);
    full.add(name);
    const entry = report.find((e) => e.name === name)!;
    entry.kind = 'full';
    delete entry.keptEnergy;
  }

  const specs: OutputTensorSpec[] = [];
  for (const [name, f] of factors) {
    specs.push({ name: `${PREFIX}${moduleOf(name)}.lora_A.weight`, dtype: 'F32', shape: [rank, f.in] });
    specs.push({ name: `${PREFIX}${moduleOf(name)}.lora_B.weight`, dtype: 'F32', shape: [f.out, rank] });
  }
  for (const name of full) {
    const t = model.tensors.get(name)!;
    specs.push({ name: `${PREFIX}${name}`, dtype: t.info.dtype, shape: t.info.shape });
  }
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModelName,
    r: rank,
    lora_alpha: rank,
    lora_dropout: 0,
    bias: 'none',
    use_rslora: false,
    use_dora: false,
    fan_in_fan_out: false,
    target_modules: [...factors.keys()].map(moduleOf),
    modules_to_save: savedModules.size > 0 ? [...savedModules] : null,
    inference_mode: true,
  };

  // The writer names a one-file checkpoint model.safetensors; PEFT's file is adapter_model.safetensors.
  const renamed: OutputTarget = {
    name: target.name,
    singleFile: target.singleFile,
    createFile: (n) => target.createFile(n === SINGLE_FILE ? ADAPTER_WEIGHTS_FILE : n),
    commit: () => target.commit(),
    abort: () => target.abort(),
  };
  const writer = await SafetensorsWriter.create(renamed, specs, { metadata: { format: 'pt' }, maxShardBytes: Infinity });
  try {
    for (const [name, f] of factors) {
      throwIfAborted(signal);
      await writer.append(`${PREFIX}${moduleOf(name)}.lora_A.weight`, encodeFromF32('F32', f.a));
      await writer.append(`${PREFIX}${moduleOf(name)}.lora_B.weight`, encodeFromF32('F32', f.b));
    }
    for (const name of full) {
      throwIfAborted(signal);
      const t = model.tensors.get(name)!;
      await writer.append(`${PREFIX}${name}`, await t.source.read(t.info.byteOffset, t.info.byteLength));
    }
    const sink = await target.createFile(ADAPTER_CONFIG_FILE);
    await sink.write(new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
    await sink.close();
    throwIfAborted(signal);
    await writer.finish();
  } catch (e) {
    await writer.abort().catch(() => undefined);
    if (signal?.aborted) throw e instanceof CancelledError ? e : new CancelledError();
    throw e;
  }
  return { tensors: report, files: [ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE] };
}
