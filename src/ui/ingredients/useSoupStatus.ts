import { useEffect, useMemo, useState } from 'react';
import { useMethodStore } from '../state/methodStore';
import { useSoupStore } from '../state/soupStore';
import { soupSpecOf, soupStatus, type SoupStatus } from './soup';
import { studioVocabulary, type StudioVocabulary } from './vocabulary';

/** The soup's spec, pre-flight report, blockers and plan, recomputed when the soup or its method changes. */
export function useSoupStatus(): SoupStatus & { vocabularies: StudioVocabulary | null | undefined } {
  const ingredients = useSoupStore((s) => s.ingredients);
  const weights = useSoupStore((s) => s.weights);
  const normalise = useSoupStore((s) => s.normalise);
  const outDtype = useSoupStore((s) => s.outDtype);
  const vocabulary = useSoupStore((s) => s.vocabulary);
  const method = useMethodStore((s) => s.method);
  const base = useMethodStore((s) => s.base);
  const params = useMethodStore((s) => s.params);
  const modelParams = useMethodStore((s) => s.modelParams);
  const slices = useMethodStore((s) => s.slices);
  const order = useMethodStore((s) => s.order);
  const setup = useMemo(() => ({ method, base, params, modelParams, slices, order }), [method, base, params, modelParams, slices, order]);
  // The tokenizers are read (asynchronously) again only when the models of the soup, its base or the choice change.
  const spec = soupSpecOf({ ingredients, weights, normalise, outDtype, method: setup, vocabulary });
  const key = JSON.stringify([spec.base?.name, spec.models.map((m) => m.name), spec.tokenizerSource]);
  const [vocabularies, setVocabularies] = useState<{ key: string; value: StudioVocabulary | null } | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void studioVocabulary(ingredients, spec).then((value) => {
      if (live) setVocabularies({ key, value });
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` names what the result depends on
  }, [ingredients, key]);
  const current = vocabularies?.key === key ? vocabularies.value : undefined;
  return useMemo(
    () => ({ ...soupStatus({ ingredients, weights, normalise, outDtype, method: setup, vocabulary, vocabularies: current }), vocabularies: current }),
    [ingredients, weights, normalise, outDtype, setup, vocabulary, current],
  );
}
