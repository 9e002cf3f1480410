/**
 * Demo checkpoints for the studio: three tiny Llama-shaped "fine-tunes" of one tiny base model, named
 * after the 70B function-calling experts of the SoCE paper and labelled as demo data. They let every
 * view of the studio work with no file of the user's; their numbers mean nothing.
 *
 *   npm run demo:checkpoints            → public/demo/checkpoints/<name>/{model.safetensors, config.json, tokenizer.json, tokenizer_config.json}
 *   node dist/node/makeDemoCheckpoints.js <folder>
 *
 * Written with the engine's SafetensorsWriter through the Node folder target (all or nothing), with
 * deterministic seeded values: the same bytes on every run and machine. The tokenizer is the tiny test
 * models' real byte-level BPE (scripts/tinyModel.ts), so the model runtime can score the demo checkpoints
 * on the demo tasks (the studio's Taste step, `souplab eval`).
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeFromF32 } from '../src/formats/floatArrays';
import { SafetensorsWriter, type OutputTarget, type OutputTensorSpec } from '../src/formats/writer';
import { nodeFolderTarget } from '../src/node/fileTargets';
import { seededGaussian as gaussian } from '../src/util/random';
import { tinyTokenizer } from './tinyModel';

/** The demo models' tokenizer: a byte-level BPE of 200 merges with Llama 3's special tokens (461 ids). */
export const DEMO_TOKENIZER = tinyTokenizer('llama', 200);

/** The shape of the tiny model: vocabulary, hidden size, MLP size, layers, attention heads. */
export const DEMO_SHAPE = { vocab: DEMO_TOKENIZER.size, hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2 } as const;

/** The paper's function-calling experts (BFCL v3), as demo stand-ins. */
export const DEMO_EXPERTS = ['xLAM-2-70b-fc-r', 'watt-tool-70B', 'CoALM-70B'] as const;
export const DEMO_PREFIX = 'demo-';
export const DEMO_NOTE =
  'Demo data: tiny random Llama-shaped checkpoints (about 0.1 M parameters) named after the SoCE paper\'s 70B experts. They are not those models.';

export interface DemoTensor {
  spec: OutputTensorSpec;
  bytes: Uint8Array;
}

function tensorList(): { name: string; shape: number[]; norm: boolean }[] {
  const { vocab, hidden, intermediate, layers, heads, kvHeads } = DEMO_SHAPE;
  const kv = (hidden / heads) * kvHeads;
  const out: { name: string; shape: number[]; norm: boolean }[] = [{ name: 'model.embed_tokens.weight', shape: [vocab, hidden], norm: false }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [hidden], norm: true },
      { name: `${p}self_attn.q_proj.weight`, shape: [hidden, hidden], norm: false },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv, hidden], norm: false },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv, hidden], norm: false },
      { name: `${p}self_attn.o_proj.weight`, shape: [hidden, hidden], norm: false },
      { name: `${p}post_attention_layernorm.weight`, shape: [hidden], norm: true },
      { name: `${p}mlp.gate_proj.weight`, shape: [intermediate, hidden], norm: false },
      { name: `${p}mlp.up_proj.weight`, shape: [intermediate, hidden], norm: false },
      { name: `${p}mlp.down_proj.weight`, shape: [hidden, intermediate], norm: false },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [hidden], norm: true }, { name: 'lm_head.weight', shape: [vocab, hidden], norm: false });
  return out;
}

/**
 * The tensors of fine-tune `variant` (0, 1, 2…): a shared base (seed 1) plus a small delta of its own
 * seed, as fine-tunes of one base model are. Weights BF16, norms F32 (as many exported models are).
 */
export function demoCheckpointTensors(variant: number): DemoTensor[] {
  const base = gaussian(1);
  const delta = gaussian(1000 + variant);
  return tensorList().map(({ name, shape, norm }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 1];
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const b = norm ? 1 + 0.05 * base() : base() / Math.sqrt(fanIn);
      values[i] = b + (norm ? 0.02 : 0.1 / Math.sqrt(fanIn)) * delta();
    }
    const dtype = norm ? 'F32' : 'BF16';
    return { spec: { name, dtype, shape }, bytes: encodeFromF32(dtype, values) };
  });
}

function configJson(): string {
  const { vocab, hidden, intermediate, layers, heads, kvHeads } = DEMO_SHAPE;
  return `${JSON.stringify(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: intermediate,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      bos_token_id: DEMO_TOKENIZER.bosTokenId,
      eos_token_id: DEMO_TOKENIZER.eosTokenId,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      souplab_demo: DEMO_NOTE,
    },
    null,
    2,
  )}\n`;
}

const json = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;
const TOKENIZER_JSON = json(DEMO_TOKENIZER.tokenizerJson);
const TOKENIZER_CONFIG = json({ ...DEMO_TOKENIZER.tokenizerConfig, souplab_demo: 'demo data' });
/** The files of a demo checkpoint folder, in the manifest's order. */
export const DEMO_FILES = ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json'];

async function writeText(target: OutputTarget, name: string, text: string): Promise<void> {
  const sink = await target.createFile(name);
  await sink.write(new TextEncoder().encode(text));
  await sink.close();
}

/** Writes one demo checkpoint folder (model.safetensors, config.json, tokenizer.json, tokenizer_config.json). */
export async function writeDemoCheckpoint(target: OutputTarget, variant: number, name: string): Promise<void> {
  const tensors = demoCheckpointTensors(variant);
  const writer = await SafetensorsWriter.create(
    target,
    tensors.map((t) => t.spec),
    { metadata: { format: 'pt', 'souplab.demo': `${name}: ${DEMO_NOTE}` }, maxShardBytes: Infinity },
  );
  try {
    for (const t of tensors) await writer.append(t.spec.name, t.bytes);
    await writeText(target, 'config.json', configJson());
    await writeText(target, 'tokenizer.json', TOKENIZER_JSON);
    await writeText(target, 'tokenizer_config.json', TOKENIZER_CONFIG);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.finish();
}

/** The manifest the studio fetches: which folders and files to load. */
export interface DemoManifest {
  note: string;
  checkpoints: { name: string; expert: string; files: string[] }[];
}

export async function makeDemoCheckpoints(outDir: string): Promise<DemoManifest> {
  const manifest: DemoManifest = { note: DEMO_NOTE, checkpoints: [] };
  for (const [i, expert] of DEMO_EXPERTS.entries()) {
    const name = `${DEMO_PREFIX}${expert}`;
    await writeDemoCheckpoint(nodeFolderTarget(join(outDir, name)), i, name);
    manifest.checkpoints.push({ name, expert, files: [...DEMO_FILES] });
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'index.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = resolve(process.argv[2] ?? 'public/demo/checkpoints');
  makeDemoCheckpoints(outDir).then(
    (m) => console.log(`demo checkpoints (demo data) written to ${outDir}: ${m.checkpoints.map((c) => c.name).join(', ')}`),
    (e: unknown) => {
      console.error(`makeDemoCheckpoints: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
