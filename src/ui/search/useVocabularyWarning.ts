/**
 * The Search view's warning when the search's models have tokenizers that differ and no vocabulary is
 * chosen: the sentence `souplab search` warns with (the engine's), pointing to the Ingredients view's
 * choice, which the search's settings take as their tokenizer source.
 */
import { useEffect, useState } from 'react';
import { positionalVocabularyWarning } from '../../search/searchVocabulary';
import { modelPathOf } from '../ingredients/modelPaths';
import type { SearchSettings } from './protocol';
import type { ReadyIngredient } from './SearchSetup';

/** How the studio aligns the rows: the vocabulary chosen in the Ingredients view's pre-flight. */
export const STUDIO_ALIGNMENT = 'choose the output vocabulary (union or base) in the Ingredients view’s pre-flight to align them';

export function useVocabularyWarning(settings: SearchSettings | null, ready: ReadyIngredient[]): string | null {
  const [warning, setWarning] = useState<{ of: SearchSettings; text: string | null } | null>(null);
  useEffect(() => {
    let live = true;
    if (!settings || settings.tokenizerSource !== undefined) return;
    const models = settings.models.flatMap((name) => {
      const g = ready.find((x) => x.name === name);
      return g ? [{ name, path: modelPathOf(g.input), checkpoint: g.checkpoint }] : [];
    });
    void positionalVocabularyWarning(models, STUDIO_ALIGNMENT).then((text) => {
      if (live) setWarning({ of: settings, text });
    });
    return () => {
      live = false;
    };
  }, [settings, ready]);
  return settings && settings.tokenizerSource === undefined && warning?.of === settings ? warning.text : null;
}
