import { describe, expect, it, vi } from 'vitest';
import { useTrialsStore } from '../../src/ui/state/trialsStore';

// The store in Node: localStorage is a Map (there is no IndexedDB, so saving for the next visit fails
// and says so; what is shown is what this test checks).
await vi.hoisted(async () => (await import('../support/memoryLocalStorage')).installMemoryLocalStorage());

const store = () => useTrialsStore.getState();
const trials = (name: string) => ({ name, text: 'recipe,weight: a,weight: b,facts,prose\nsoup,0.5,0.5,70,25\na,1,0,60,20\nb,0,1,50,30\n' });

describe('trialsStore: the objective rule belongs to the table it came with', () => {
  it('a table from Taste keeps its rule; a user file loaded after it has none; a broken file changes nothing', async () => {
    await store().loadFile(trials('taste-trials.csv'), 'scores from Taste, each a percentage');
    expect(store().sourceName).toBe('taste-trials.csv');
    expect(store().objectiveRule).toBe('scores from Taste, each a percentage');
    await store().loadFile({ name: 'broken.csv', text: 'nothing here\n' });
    expect(store().sourceName).toBe('taste-trials.csv');
    expect(store().objectiveRule).toBe('scores from Taste, each a percentage');
    await store().loadFile(trials('mine.csv'));
    expect(store().sourceName).toBe('mine.csv');
    expect(store().objectiveRule).toBeNull();
    await store().loadFile(trials('taste-trials.csv'), 'rule');
    await store().clear();
    expect(store().objectiveRule).toBeNull();
  });
});
