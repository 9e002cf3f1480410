/**
 * The base model's files that make a merged folder a loadable model (Hugging Face layout): config.json
 * (its dtype set to the output's), generation config and tokenizer files. Used by `souplab merge` and the studio's export alike.
 */
import type { MergePlan } from './plan';
import type { ExtraOutputFile } from './runMerge';

const CARRIED_FILE = /^(config\.json|generation_config\.json|tokenizer(_config)?\.json|tokenizer\.model|special_tokens_map\.json|added_tokens\.json|vocab\.(json|txt)|merges\.txt|spiece\.model|chat_template\.(jinja|json))$/;
const TORCH_DTYPE: Record<string, string> = { F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export async function carriedFiles(plan: MergePlan): Promise<ExtraOutputFile[]> {
  const out: ExtraOutputFile[] = [];
  const outDtypes = new Set(plan.steps.flatMap((s) => (s.kind !== 'copy' ? [s.outDtype] : [])));
  for (const [name, source] of plan.reference.checkpoint.extraFiles) {
    if (!CARRIED_FILE.test(name)) continue;
    if (name === 'config.json' && outDtypes.size === 1 && source.size < 10_000_000) {
      try {
        const config = JSON.parse(new TextDecoder().decode(await source.read(0, source.size))) as Record<string, unknown>;
        if (typeof config === 'object' && config !== null && !Array.isArray(config)) {
          const dtype = TORCH_DTYPE[[...outDtypes][0]];
          if ('torch_dtype' in config || !('dtype' in config)) config.torch_dtype = dtype;
          if ('dtype' in config) config.dtype = dtype;
          // A frankenmerge (slices:) has its own number of layers.
          if (plan.outputLayers !== undefined && 'num_hidden_layers' in config) config.num_hidden_layers = plan.outputLayers;
          out.push({ name, data: new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`) });
          continue;
        }
      } catch {
        // Not JSON we understand: carried over as it is.
      }
    }
    out.push({ name, data: source });
  }
  return out;
}
