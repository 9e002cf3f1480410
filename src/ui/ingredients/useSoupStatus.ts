import { useMemo } from 'react';
import { useSoupStore } from '../state/soupStore';
import { soupStatus, type SoupStatus } from './soup';

/** The soup's spec, pre-flight report, blockers and plan, recomputed when the soup changes. */
export function useSoupStatus(): SoupStatus {
  const ingredients = useSoupStore((s) => s.ingredients);
  const weights = useSoupStore((s) => s.weights);
  const normalise = useSoupStore((s) => s.normalise);
  const outDtype = useSoupStore((s) => s.outDtype);
  return useMemo(() => soupStatus({ ingredients, weights, normalise, outDtype }), [ingredients, weights, normalise, outDtype]);
}
