import { useMemo } from 'react';
import { useMethodStore } from '../state/methodStore';
import { useSoupStore } from '../state/soupStore';
import { soupStatus, type SoupStatus } from './soup';

/** The soup's spec, pre-flight report, blockers and plan, recomputed when the soup or its method changes. */
export function useSoupStatus(): SoupStatus {
  const ingredients = useSoupStore((s) => s.ingredients);
  const weights = useSoupStore((s) => s.weights);
  const normalise = useSoupStore((s) => s.normalise);
  const outDtype = useSoupStore((s) => s.outDtype);
  const method = useMethodStore((s) => s.method);
  const base = useMethodStore((s) => s.base);
  const params = useMethodStore((s) => s.params);
  const modelParams = useMethodStore((s) => s.modelParams);
  const slices = useMethodStore((s) => s.slices);
  const order = useMethodStore((s) => s.order);
  return useMemo(
    () => soupStatus({ ingredients, weights, normalise, outDtype, method: { method, base, params, modelParams, slices, order } }),
    [ingredients, weights, normalise, outDtype, method, base, params, modelParams, slices, order],
  );
}
