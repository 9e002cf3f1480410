import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useSoupStore } from '../../src/ui/state/soupStore';
import type { IngredientInput } from '../../src/ui/ingredients/types';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { modelPathOf } from '../../src/ui/ingredients/modelPaths';
import { recipeYamlOf } from '../../src/ui/ingredients/recipeIO';
import { runMergeJob } from '../../src/ui/merge/mergeJob';
import { MemoryTarget } from '../formats/helpers';
import { randomTensor, safetensorsBytes } from '../merge/models';

// The store in Node, as in soupStore.test.ts: localStorage is a Map, IndexedDB is absent.
await vi.hoisted(async () => (await import('../support/memoryLocalStorage')).installMemoryLocalStorage());

const store = () => useSoupStore.getState();
const Q = 'model.layers.0.self_attn.q_proj';

function modelFile(name: string, width: number): File {
  const bytes = safetensorsBytes([randomTensor(`${Q}.weight`, 'BF16', [width, width], 1), randomTensor('model.norm.weight', 'BF16', [width], 2)]);
  return new File([bytes as Uint8Array<ArrayBuffer>], `${name}.safetensors`);
}

function baseInput(name: string, width = 8): IngredientInput {
  return { name, kind: 'file', files: [[`${name}.safetensors`, modelFile(name, width)]] };
}

function adapterInput(): IngredientInput {
  const config = JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, use_dora: false, target_modules: ['q_proj'], base_model_name_or_path: 'org/tiny-base' });
  const weights = safetensorsBytes([randomTensor(`base_model.model.${Q}.lora_A.weight`, 'F32', [2, 8], 3), randomTensor(`base_model.model.${Q}.lora_B.weight`, 'F32', [8, 2], 4)]);
  return {
    name: 'chat-lora',
    kind: 'folder',
    files: [
      ['adapter_config.json', new File([config], 'adapter_config.json')],
      ['adapter_model.safetensors', new File([weights as Uint8Array<ArrayBuffer>], 'adapter_model.safetensors')],
    ],
  };
}

describe('a LoRA adapter dropped on the studio', () => {
  beforeEach(() => useSoupStore.setState(useSoupStore.getInitialState(), true));

  it('without its base: an error card naming the base it needs and that it is not loaded', async () => {
    await store().addInputs({ inputs: [adapterInput()], skipped: [] });
    const [card] = store().ingredients;
    expect(card.status).toBe('error');
    expect(card.status === 'error' && card.error).toBe('chat-lora is a LoRA adapter for org/tiny-base; its base is not loaded: add the base model, then this adapter again');
  });

  it('dropped with its base: the card names the loaded base, and the ingredient is the base with the adapter merged in', async () => {
    await store().addInputs({ inputs: [adapterInput(), baseInput('tiny-base')], skipped: [] });
    const card = store().ingredients.find((g) => g.name === 'chat-lora')!;
    expect(card.status).toBe('ready');
    if (card.status !== 'ready') return;
    expect(card.summary.lora).toEqual({ r: 2, alpha: 4, dora: false, rslora: false, trainedOn: 'org/tiny-base', base: 'tiny-base', adaptedTensors: 1 });
    expect(card.input.base?.name).toBe('tiny-base');
    const t = card.checkpoint.tensors.get(`${Q}.weight`)!;
    expect(t.info.dtype).toBe('F32');
    const base = store().ingredients.find((g) => g.name === 'tiny-base')!;
    expect(base.status === 'ready' && base.checkpoint.tensors.get(`${Q}.weight`)!.info.dtype).toBe('BF16');
  });

  it('with only a model of another shape loaded: the card says why it does not fit', async () => {
    await store().addInputs({ inputs: [baseInput('wide', 16)], skipped: [] });
    await store().addInputs({ inputs: [adapterInput()], skipped: [] });
    const card = store().ingredients.find((g) => g.name === 'chat-lora')!;
    expect(card.status === 'error' && card.error).toBe(
      `chat-lora is a LoRA adapter for org/tiny-base; its base is not loaded (chat-lora does not fit wide: tensor ${Q}.weight has shape [16, 16], but the adapter's lora_A [2, 8] and lora_B [8, 2] need [8, 8] (the adapter was trained on org/tiny-base))`,
    );
  });

  it("the studio's merge soups it: its recipe names base+adapter, its output is the adapted tensor", async () => {
    await store().addInputs({ inputs: [baseInput('tiny-base'), adapterInput()], skipped: [] });
    const card = store().ingredients.find((g) => g.name === 'chat-lora')!;
    if (card.status !== 'ready') throw new Error(`not ready: ${card.status}`);
    const path = modelPathOf(card.input);
    expect(path).toBe('./tiny-base.safetensors+./chat-lora');
    const recipeYaml = recipeYamlOf({ models: [{ name: 'chat-lora', weight: 1, path }], normalise: true, outDtype: 'F32' });
    const target = new MemoryTarget('out', true);
    const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const r = await runMergeJob({ ingredients: store().ingredients.map((g) => g.input), recipeYaml }, { backend: async () => backend, target, folder: false, readBack: async (name) => target.sources().get(name)! }).finally(() => backend.dispose());
    expect(r.tensors).toBe(2);
    const out = await openCheckpoint((await target.sources()).get('model.safetensors')!);
    const got = out.tensors.get(`${Q}.weight`)!;
    const want = card.checkpoint.tensors.get(`${Q}.weight`)!;
    expect(await got.source.read(got.info.byteOffset, got.info.byteLength)).toEqual(await want.source.read(0, want.info.byteLength));
    expect(out.metadata['souplab.recipe']).toContain('model: ./tiny-base.safetensors+./chat-lora');
  });
});
