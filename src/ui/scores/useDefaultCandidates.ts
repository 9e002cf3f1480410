import { useEffect, useMemo } from 'react';
import type { ScoreTable } from '../../analysis';
import { useSoupStore } from '../state/soupStore';
import { defaultCandidates, type DefaultCandidates } from './candidates';

/**
 * The candidates a table starts with (the loaded checkpoints' models, else its open-weight rows), for
 * every view that analyses the Scores view's table, so that they agree.
 */
export function useDefaultCandidates(table: ScoreTable | null): DefaultCandidates | null {
  const init = useSoupStore((s) => s.init);
  const ingredients = useSoupStore((s) => s.ingredients);
  useEffect(() => {
    void init();
  }, [init]);
  // Keyed by the names, so that a card changing state does not make a new default.
  const key = ingredients
    .filter((g) => g.status === 'ready')
    .map((g) => g.name)
    .join('\n');
  return useMemo(() => (table ? defaultCandidates(table, key === '' ? [] : key.split('\n')) : null), [table, key]);
}
