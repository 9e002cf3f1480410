/**
 * Opens a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors; headers only) and
 * maps PEFT's key names to the modules they adapt:
 *
 *   base_model.model.<module>.lora_A.weight          [r, in]
 *   base_model.model.<module>.lora_B.weight          [out, r]
 *   base_model.model.<module>.lora_magnitude_vector  [out]       (DoRA; older PEFT: ….weight)
 *   base_model.model.<module>.<param>                full tensor of a modules_to_save module
 *
 * (PEFT's get_peft_model_state_dict strips the adapter name and, for modules_to_save, the
 * "modules_to_save.<adapter>" part.) Any other key is refused by name.
 */
import { InputError } from '../../errors';
import { openCheckpoint, type CheckpointTensor } from '../checkpoint';
import { printable } from '../header';
import type { ByteSource } from '../types';
import { ADAPTER_CONFIG_FILE, ADAPTER_PICKLE_FILE, ADAPTER_WEIGHTS_FILE, isTargetModule, moduleLora, parseLoraConfig, type LoraConfig } from './adapterConfig';

export interface LoraModule {
  /** The module's name without PEFT's prefix, e.g. model.layers.0.self_attn.q_proj. */
  module: string;
  a: CheckpointTensor;
  b: CheckpointTensor;
  magnitude?: CheckpointTensor;
}

export interface LoraAdapter {
  name: string;
  config: LoraConfig;
  modules: LoraModule[];
  /** modules_to_save tensors by their name without PEFT's prefix: they replace the base's. */
  replacements: Map<string, CheckpointTensor>;
  /** The adapter's files, for "is this the same file" checks and for carrying nothing of them over. */
  files: Map<string, ByteSource>;
}

const PREFIX = 'base_model.model.';

/** True when a folder's file names look like a PEFT adapter (for a studio drop or a CLI path). */
export function isAdapterFolder(fileNames: Iterable<string>): boolean {
  for (const n of fileNames) if (n === ADAPTER_CONFIG_FILE) return true;
  return false;
}

export async function openLoraAdapter(files: Map<string, ByteSource>, name: string): Promise<LoraAdapter> {
  const configSource = files.get(ADAPTER_CONFIG_FILE);
  if (!configSource) throw new InputError(`${printable(name)}: no ${ADAPTER_CONFIG_FILE}, so this is not a PEFT LoRA adapter folder`);
  const weights = files.get(ADAPTER_WEIGHTS_FILE);
  if (!weights) {
    if (files.has(ADAPTER_PICKLE_FILE)) {
      throw new InputError(
        `${printable(name)}: the adapter's weights are in ${ADAPTER_PICKLE_FILE}, a pickle, which SoupLab does not load (it can run code); save it as ${ADAPTER_WEIGHTS_FILE} (PEFT's save_pretrained with safe_serialization=True)`,
      );
    }
    throw new InputError(`${printable(name)}: no ${ADAPTER_WEIGHTS_FILE} beside ${ADAPTER_CONFIG_FILE}`);
  }
  if (configSource.size > 10_000_000) throw new InputError(`${printable(name)}: ${ADAPTER_CONFIG_FILE} is ${configSource.size} bytes, too large for a config`);
  const text = new TextDecoder().decode(await configSource.read(0, configSource.size));
  const config = parseLoraConfig(text, printable(name));
  const checkpoint = await openCheckpoint(weights, ADAPTER_WEIGHTS_FILE);

  const parts = new Map<string, { a?: CheckpointTensor; b?: CheckpointTensor; magnitude?: CheckpointTensor; firstKey: string }>();
  const replacements = new Map<string, CheckpointTensor>();
  const where = `${printable(name)}/${ADAPTER_WEIGHTS_FILE}`;
  const refuse = (key: string, why: string) => new InputError(`${where}: tensor ${printable(key)} ${why}`);
  for (const [key, t] of checkpoint.tensors) {
    const k = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    const m = /^(.+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector(?:\.weight)?)$/.exec(k);
    if (m) {
      const [, module, part] = m;
      if (!isTargetModule(config.targetModules, module)) {
        throw refuse(key, `adapts ${printable(module)}, which target_modules (${JSON.stringify(config.targetModules)}) does not select; the adapter's files do not belong together`);
      }
      const entry = parts.get(module) ?? { firstKey: key };
      if (part === 'lora_A.weight') entry.a = t;
      else if (part === 'lora_B.weight') entry.b = t;
      else {
        if (!config.useDora) throw refuse(key, 'is a DoRA magnitude vector, but adapter_config.json does not set use_dora');
        entry.magnitude = t;
      }
      parts.set(module, entry);
      continue;
    }
    if (/\.lora_(embedding_[AB]|[AB]\.bias)\b|\.lora_[AB]\./.test(k) || /\.lora_[a-z_]+/.test(k)) {
      throw refuse(key, 'is a LoRA part SoupLab cannot merge (only lora_A/lora_B weights of linear layers and DoRA magnitudes)');
    }
    const plain = k.replace(/\.modules_to_save(?:\.default)?\./, '.');
    const owner = config.modulesToSave.find((mts) => plain.startsWith(`${mts}.`) || plain.includes(`.${mts}.`));
    if (!owner) throw refuse(key, 'is neither a LoRA factor (lora_A, lora_B, lora_magnitude_vector) nor part of a module in modules_to_save');
    replacements.set(plain, t);
  }

  const modules: LoraModule[] = [];
  for (const [module, p] of parts) {
    if (!p.a || !p.b) throw refuse(p.firstKey, `has no matching ${p.a ? 'lora_B' : 'lora_A'}.weight for module ${printable(module)}`);
    const [ra, inF] = p.a.info.shape;
    const [outF, rb] = p.b.info.shape;
    if (p.a.info.shape.length !== 2 || p.b.info.shape.length !== 2 || ra !== rb) {
      throw refuse(p.a.info.name, `has shape [${p.a.info.shape.join(', ')}] and its lora_B [${p.b.info.shape.join(', ')}]; expected [r, in] and [out, r]`);
    }
    const r = moduleLora(config, module).r;
    if (ra !== r) throw refuse(p.a.info.name, `has rank ${ra}, but adapter_config.json says r = ${r}${r !== config.r ? ' (rank_pattern)' : ''}`);
    if (p.magnitude && (p.magnitude.info.shape.length !== 1 || p.magnitude.info.shape[0] !== outF)) {
      throw refuse(p.magnitude.info.name, `has shape [${p.magnitude.info.shape.join(', ')}]; DoRA's magnitude has one value per output feature, [${outF}]`);
    }
    if (config.useDora && !p.magnitude) throw refuse(p.a.info.name, `belongs to a DoRA adapter but module ${printable(module)} has no lora_magnitude_vector`);
    void inF;
    modules.push({ module, a: p.a, b: p.b, magnitude: p.magnitude });
  }
  if (modules.length === 0 && replacements.size === 0) throw new InputError(`${where}: holds no LoRA tensors`);
  return { name, config, modules, replacements, files };
}
