import { beforeEach, describe, expect, it, vi } from 'vitest';
import { writeDemoCheckpoint } from '../../scripts/makeDemoCheckpoints';
import { fromLooseFiles } from '../../src/ui/ingredients/collect';
import { useSoupStore } from '../../src/ui/state/soupStore';
import { MemoryTarget } from '../formats/helpers';

// The store in Node: localStorage is a Map here (before the store is made), IndexedDB is absent (the
// ingredient list is not saved); the actions are the same as in the page.
const saved = await vi.hoisted(async () => (await import('../support/memoryLocalStorage')).installMemoryLocalStorage());
async function demoFile(variant: number, name: string): Promise<File> {
  const target = new MemoryTarget(name);
  await writeDemoCheckpoint(target, variant, name);
  return new File([target.committed.get('model.safetensors') as Uint8Array<ArrayBuffer>], `${name}.safetensors`);
}

const store = () => useSoupStore.getState();

/** The two demo checkpoints every test starts from: each test stands alone (run with -t, in any order). */
async function addTwoDemos(): Promise<File[]> {
  const files = [await demoFile(0, 'demo-xLAM-2-70b-fc-r'), await demoFile(1, 'demo-watt-tool-70B')];
  await store().addInputs(fromLooseFiles(files.map((f) => ({ name: f.name, item: f }))));
  return files;
}

describe('soupStore', () => {
  beforeEach(() => {
    useSoupStore.setState(useSoupStore.getInitialState(), true);
    saved.clear();
  });

  it('adds dropped files as cards, reads their headers, and keeps a broken file as an error card', async () => {
    await addTwoDemos();
    await store().addInputs(fromLooseFiles([{ name: 'broken.safetensors', item: new File([new Uint8Array(3)], 'broken.safetensors') }]));
    const cards = store().ingredients;
    expect(cards.map((g) => [g.name, g.status])).toEqual([
      ['demo-xLAM-2-70b-fc-r', 'ready'],
      ['demo-watt-tool-70B', 'ready'],
      ['broken', 'error'],
    ]);
    const broken = cards[2];
    expect(broken.status === 'error' && broken.error).toMatch(/^broken\.safetensors: /);
    store().remove(broken.id);
    expect(store().ingredients).toHaveLength(2);
  });

  it('proposed experts set the weights of matched checkpoints and 0 elsewhere; Uniform evens them', async () => {
    await addTwoDemos();
    expect(() => store().proposeExperts(['a'], [0.5, 0.5], '')).toThrow(/1 experts but 2 weights/);
    store().proposeExperts(['xLAM-2-70b-fc-r (FC)', 'CoALM-70B'], [0.7, 0.3], 'test');
    store().applyExpertWeights(['demo-xLAM-2-70b-fc-r', undefined]);
    expect(store().weights['demo-xLAM-2-70b-fc-r']).toBe(0.7);
    expect(store().weights['demo-watt-tool-70B']).toBe(0);
    expect(store().notices.at(-1)?.text).toMatch(/1 of 2 matched/);
    store().uniform();
    expect(store().weights['demo-xLAM-2-70b-fc-r']).toBe(0.5);
    expect(store().weights['demo-watt-tool-70B']).toBe(0.5);
  });

  it('imports a recipe onto the ingredients, and reports one it cannot use with its line', async () => {
    await addTwoDemos();
    store().importRecipeText('merge_method: linear\nmodels:\n  - model: watt-ai/watt-tool-70B\n    parameters: {weight: 2}\nparameters:\n  normalize: false\n', 'r.yaml');
    expect(store().weights['demo-watt-tool-70B']).toBe(2);
    expect(store().weights['demo-xLAM-2-70b-fc-r']).toBe(0);
    expect(store().normalise).toBe(false);
    // Weights and options persist (localStorage); the ingredients themselves do not go there.
    const persisted = JSON.parse(saved.get('souplab.soup')!) as { state: Record<string, unknown> };
    expect(persisted.state.weights).toMatchObject({ 'demo-watt-tool-70B': 2 });
    expect(persisted.state.normalise).toBe(false);
    expect(persisted.state).not.toHaveProperty('ingredients');
    store().importRecipeText('merge_method: linear\nmodels: 3\n', 'bad.yaml');
    expect(store().notices.at(-1)).toEqual({ kind: 'error', text: expect.stringMatching(/^bad\.yaml line 2: models must be a list/) });
  });

  it('a checkpoint added again starts at weight 1, not at the weight it had before', async () => {
    const [, f] = await addTwoDemos();
    store().setWeight('demo-watt-tool-70B', 0);
    store().clear();
    expect(store().ingredients).toEqual([]);
    await store().addInputs(fromLooseFiles([{ name: f.name, item: f }]));
    expect(store().weights['demo-watt-tool-70B']).toBe(1);
    // Two checkpoints of one name get distinct names: recipes refer to them by name.
    await store().addInputs(fromLooseFiles([{ name: f.name, item: f }]));
    expect(store().ingredients.map((g) => g.name)).toEqual(['demo-watt-tool-70B', 'demo-watt-tool-70B (2)']);
  });
});
