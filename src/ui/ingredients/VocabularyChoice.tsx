import { useSoupStore, type VocabularyChoice as Choice } from '../state/soupStore';
import type { StudioVocabulary } from './vocabulary';

const OPTIONS: { value: Choice; label: string }[] = [
  { value: 'union', label: 'Union: every model’s tokens (tokenizer_source: union)' },
  { value: 'base', label: 'The base model’s (tokenizer_source: base)' },
  { value: 'rows', label: 'None: rows as they are (no tokenizer_source)' },
];

/**
 * In the pre-flight: the models' vocabularies, one line per model that differs from the base, and the
 * output vocabulary to merge into (mergekit's tokenizer_source). Shown when the tokenizers differ or a
 * vocabulary is chosen.
 */
export function VocabularyChoice({ vocabularies }: { vocabularies: StudioVocabulary | null | undefined }) {
  const choice = useSoupStore((s) => s.vocabulary);
  const setChoice = useSoupStore((s) => s.setVocabulary);
  if (!vocabularies || (!vocabularies.differ && choice === 'rows')) return null;
  return (
    <div className="vocabulary" role="group" aria-labelledby="vocabulary-h">
      <h4 id="vocabulary-h">{vocabularies.differ ? 'Vocabularies differ' : 'Vocabulary'}</h4>
      {vocabularies.error ? (
        <p className="error">{vocabularies.error}</p>
      ) : (
        <ul className="small">
          {vocabularies.lines.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
      <label>
        Output vocabulary{' '}
        <select value={choice} onChange={(e) => setChoice(e.target.value as Choice)}>
          {OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <p className="muted small">
        Union and base permute each model’s embedding and output rows into the chosen vocabulary; a token a model lacks takes the base’s row, else the only model’s that
        has it, else their average (mergekit’s rules). The export carries the matching tokenizer files.
      </p>
    </div>
  );
}
