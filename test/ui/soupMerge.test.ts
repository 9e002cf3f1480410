import { describe, expect, it } from 'vitest';
import { demoCheckpointTensors, writeDemoCheckpoint } from '../../scripts/makeDemoCheckpoints';
import { CancelledError } from '../../src/errors';
import { openCheckpoint } from '../../src/formats/checkpoint';
import { SafetensorsWriter } from '../../src/formats/writer';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { runSoupJobReference, type KernelDtype } from '../../src/merge/kernel';
import { parseRecipe, recipeToYaml } from '../../src/merge/recipe';
import { openInput, summarise } from '../../src/ui/ingredients/openIngredient';
import { recipeYamlOf } from '../../src/ui/ingredients/recipeIO';
import { soupStatus } from '../../src/ui/ingredients/soup';
import type { Ingredient, IngredientInput } from '../../src/ui/ingredients/types';
import { runMergeJob } from '../../src/ui/merge/mergeJob';
import { MemoryTarget } from '../formats/helpers';

/** A demo checkpoint folder (model.safetensors, config.json, tokenizer_config.json) as browser Files. */
async function demoFolder(variant: number, name: string): Promise<IngredientInput> {
  const target = new MemoryTarget(name);
  await writeDemoCheckpoint(target, variant, name);
  return { name, kind: 'folder', files: [...target.committed].map(([n, bytes]) => [n, new File([bytes as Uint8Array<ArrayBuffer>], n)]) };
}

/** A single-file checkpoint with the given tensors. */
async function singleFile(name: string, tensors: { spec: { name: string; dtype: 'F32' | 'BF16'; shape: number[] }; bytes: Uint8Array }[]): Promise<IngredientInput> {
  const target = new MemoryTarget(name, true);
  const w = await SafetensorsWriter.create(target, tensors.map((t) => t.spec), { maxShardBytes: Infinity });
  for (const t of tensors) await w.append(t.spec.name, t.bytes);
  await w.finish();
  const bytes = target.committed.get('model.safetensors')!;
  return { name, kind: 'file', files: [[`${name}.safetensors`, new File([bytes as Uint8Array<ArrayBuffer>], `${name}.safetensors`)]] };
}

async function ready(input: IngredientInput, id: string): Promise<Ingredient> {
  try {
    const checkpoint = await openInput(input);
    return { id, name: input.name, input, status: 'ready', checkpoint, summary: summarise(checkpoint) };
  } catch (e) {
    return { id, name: input.name, input, status: 'error', error: (e as Error).message };
  }
}

const NAMES = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B'];

describe('the studio soup on real (generated) checkpoints', () => {
  it('cards summarise the headers; the soup status plans the merge when nothing blocks it', async () => {
    const inputs = await Promise.all(NAMES.map((n, i) => demoFolder(i, n)));
    const ingredients = await Promise.all(inputs.map((x, i) => ready(x, `g${i}`)));
    const first = ingredients[0];
    expect(first.status).toBe('ready');
    if (first.status !== 'ready') return;
    expect(first.summary.parameters).toBe(133_056);
    expect(first.summary.tensors).toBe(21);
    expect(first.summary.dtypes.map((d) => [d.dtype, d.tensors])).toEqual([['BF16', 16], ['F32', 5]]);
    expect(first.summary.extraFiles).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json']);

    const s = soupStatus({ ingredients, weights: {}, normalise: true, outDtype: 'auto' });
    expect(s.blockers).toEqual([]);
    expect(s.report?.errors).toEqual([]);
    expect(s.plan?.steps).toHaveLength(21);
    expect(s.plan?.outputBytes).toBe(132_736 * 2 + 320 * 4);

    // Weight 0 leaves an ingredient out; all 0 blocks.
    const two = soupStatus({ ingredients, weights: { [NAMES[2]]: 0 }, normalise: true, outDtype: 'F32' });
    expect(two.spec.models.map((m) => m.name)).toEqual(NAMES.slice(0, 2));
    expect(two.plan?.outputBytes).toBe(133_056 * 4);
    const none = soupStatus({ ingredients, weights: Object.fromEntries(NAMES.map((n) => [n, 0])), normalise: true, outDtype: 'auto' });
    expect(none.blockers).toEqual(['Every weight is 0: give at least one ingredient a weight.']);
  });

  it('a broken file and a mismatched model block the merge with the engine\'s messages', async () => {
    const good = await ready(await demoFolder(0, NAMES[0]), 'a');
    const brokenBytes = new Uint8Array(64);
    new DataView(brokenBytes.buffer).setBigUint64(0, 10_000n, true);
    const broken = await ready({ name: 'broken', kind: 'file', files: [['broken.safetensors', new File([brokenBytes], 'broken.safetensors')]] }, 'b');
    expect(broken.status).toBe('error');
    expect(broken.status === 'error' && broken.error).toMatch(/^broken\.safetensors: header length 10,?000 runs past the end of the file/);
    const s1 = soupStatus({ ingredients: [good, broken], weights: {}, normalise: true, outDtype: 'auto' });
    expect(s1.blockers).toEqual(['broken cannot be read; remove it to merge.']);
    expect(s1.plan).toBeNull();

    // Same names, one tensor of another shape.
    const tensors = demoCheckpointTensors(3).map((t) =>
      t.spec.name === 'model.layers.1.mlp.up_proj.weight' ? { spec: { ...t.spec, shape: [64, 128] }, bytes: t.bytes } : t,
    ) as Parameters<typeof singleFile>[1];
    const odd = await ready(await singleFile('odd', tensors), 'c');
    const s2 = soupStatus({ ingredients: [good, odd], weights: {}, normalise: true, outDtype: 'auto' });
    expect(s2.report?.errors.map((e) => e.message)).toEqual([`odd: tensor model.layers.1.mlp.up_proj.weight has shape [64, 128], ${NAMES[0]} has [128, 64]`]);
    expect(s2.blockers).toEqual(['The pre-flight check found 1 problem (see Ingredients).']);
  });

  it('runMergeJob writes the soup, recipe.yaml and the base model\'s config; every tensor equals the reference arithmetic', async () => {
    const inputs = await Promise.all(NAMES.map((n, i) => demoFolder(i, n)));
    const weights = [0.5, 0.3, 0.2];
    const recipeYaml = recipeYamlOf({ models: NAMES.map((name, i) => ({ name, weight: weights[i] })), normalise: true, outDtype: 'BF16' });
    const target = new MemoryTarget('out');
    const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    let lastProgress = 0;
    const r = await runMergeJob(
      { ingredients: inputs, recipeYaml },
      {
        backend: async () => backend,
        target,
        folder: true,
        readBack: async (name) => target.sources().get(name)!,
        onProgress: (p) => (lastProgress = p.tensorsDone),
      },
    ).finally(() => backend.dispose());
    expect(r.verified).toBe(true);
    expect(r.modelFiles).toEqual(['model.safetensors']);
    expect(r.otherFiles).toEqual(['recipe.yaml', 'config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(r.tensors).toBe(21);
    expect(lastProgress).toBe(21);
    expect([...target.committed.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'recipe.yaml', 'tokenizer.json', 'tokenizer_config.json']);
    // The stored recipe is the normalised one, as souplab merge stores it (one engine entry, runRecipe).
    expect(new TextDecoder().decode(target.committed.get('recipe.yaml'))).toBe(
      `# SoupLab soup (mergekit recipe); model paths are relative to the folder that holds the checkpoints\n${recipeToYaml(parseRecipe(recipeYaml).recipe)}`,
    );
    expect(parseRecipe(recipeYaml).recipe.outDtype).toBe('BF16');
    const config = JSON.parse(new TextDecoder().decode(target.committed.get('config.json'))) as Record<string, unknown>;
    expect(config.torch_dtype).toBe('bfloat16');
    expect(config.model_type).toBe('llama');

    const out = await openCheckpoint(target.sources(), 'out');
    const ins = NAMES.map((_, i) => new Map(demoCheckpointTensors(i).map((t) => [t.spec.name, t])));
    const sum = weights.reduce((a, b) => a + b, 0);
    const coefficients = Float32Array.from(weights.map((w) => w / sum));
    for (const [name, t] of out.tensors) {
      expect(t.info.dtype).toBe('BF16');
      const expected = runSoupJobReference({
        mode: 'linear',
        coefficients,
        inputs: ins.map((m) => ({ dtype: m.get(name)!.spec.dtype as KernelDtype, bytes: m.get(name)!.bytes })),
        outDtype: 'BF16',
        elementCount: t.info.shape.reduce((a, b) => a * b, 1),
      });
      const got = await t.source.read(t.info.byteOffset, t.info.byteLength);
      expect(Buffer.from(got).equals(Buffer.from(expected)), name).toBe(true);
    }
  });

  it('a cancelled job leaves nothing: the target is aborted and holds no file', async () => {
    const inputs = await Promise.all(NAMES.map((n, i) => demoFolder(i, n)));
    const recipeYaml = recipeYamlOf({ models: NAMES.map((name) => ({ name, weight: 1 })), normalise: true });
    const target = new MemoryTarget('out');
    const controller = new AbortController();
    const backend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const job = runMergeJob(
      { ingredients: inputs, recipeYaml },
      {
        backend: async () => backend,
        target,
        folder: true,
        readBack: async (name) => target.sources().get(name)!,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.tensorsDone >= 3) controller.abort();
        },
      },
    ).finally(() => backend.dispose());
    await expect(job).rejects.toBeInstanceOf(CancelledError);
    expect(target.state).toBe('aborted');
    expect(target.committed.size).toBe(0);
  });
});
