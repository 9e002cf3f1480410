import { memo, useId, useState } from 'react';
import { groupModels, matchesSearch, toggleIn } from './candidates';
import { SkipToHeatmap } from './SkipToHeatmap';

interface CandidatePickerProps {
  models: string[];
  selected: string[];
  /** Base model per model, when the table has such a column. */
  baseOf: Map<string, string> | null;
  baseColumn: string | null;
  /** The demo's candidate set, offered as a shortcut ("the paper's 70B set"). */
  demoSet: string[] | null;
  isDemoSet: boolean;
  onChange(c: string[] | null): void;
}

const MAX_SHOWN = 400;

/** Which models may be experts; correlations still use every row unless asked otherwise. */
export const CandidatePicker = memo(function CandidatePicker({ models, selected, baseOf, baseColumn, demoSet, isDemoSet, onChange }: CandidatePickerProps) {
  const [query, setQuery] = useState('');
  const searchId = useId();
  const matching = models.filter((m) => matchesSearch(m, query));
  const groups = groupModels(matching.slice(0, MAX_SHOWN), baseOf);
  const set = (names: string[], on: boolean) => {
    const next = toggleIn(selected, names, on, models);
    onChange(next.length === models.length ? null : next);
  };
  return (
    <fieldset className="picker">
      <legend>
        Candidates <span className="muted">({selected.length} of {models.length} models)</span>
        {isDemoSet && (
          <span className="badge" title="The three 70B models the SoCE paper souped">
            demo: the paper's 70B soup
          </span>
        )}
      </legend>
      <div className="picker-tools">
        <label htmlFor={searchId} className="visually-hidden">
          Search models
        </label>
        <input id={searchId} type="search" placeholder="Search models" value={query} onChange={(e) => setQuery(e.target.value)} />
        {query !== '' && matching.length > 0 && (
          <>
            <button type="button" onClick={() => onChange(matching.length === models.length ? null : matching)} title="Make the models found the candidates, and only them">
              Only these {matching.length}
            </button>
            <button type="button" onClick={() => set(matching, true)} title="Add the models found to the candidates">
              Add {matching.length}
            </button>
          </>
        )}
      </div>
      <div className="picker-tools">
        <button type="button" onClick={() => onChange(null)} disabled={selected.length === models.length}>
          All
        </button>
        <button type="button" onClick={() => onChange([])} disabled={selected.length === 0}>
          None
        </button>
        {demoSet && (
          <button type="button" onClick={() => onChange(demoSet)} disabled={isDemoSet}>
            Paper's 70B soup
          </button>
        )}
        {selected.length < models.length && selected.length > 0 && (
          <span className="muted picker-chosen" title={selected.join('\n')}>
            {selected.length <= 4 ? selected.join(', ') : `${selected.slice(0, 3).join(', ')} and ${selected.length - 3} more`}
          </span>
        )}
      </div>
      <SkipToHeatmap label="Skip the list: to the heatmap" />
      <div className="picker-list-wrap">
        {groups.map((grp) => (
          <div key={grp.base ?? ''} role="group" aria-label={grp.base ? `${baseColumn}: ${grp.base}` : 'Models'}>
            {grp.base && (
              <label className="picker-group">
                <input
                  type="checkbox"
                  checked={grp.models.every((m) => selected.includes(m))}
                  ref={(el) => {
                    if (el) el.indeterminate = grp.models.some((m) => selected.includes(m)) && !grp.models.every((m) => selected.includes(m));
                  }}
                  onChange={(e) => set(grp.models, e.target.checked)}
                />{' '}
                {grp.base} <span className="muted">({grp.models.length})</span>
              </label>
            )}
            <ul className="picker-list">
              {grp.models.map((m) => (
                <li key={m}>
                  <label>
                    <input type="checkbox" checked={selected.includes(m)} onChange={(e) => set([m], e.target.checked)} /> {m}
                  </label>
                </li>
              ))}
            </ul>
          </div>
        ))}
        {matching.length === 0 && <p className="muted">No model matches “{query}”.</p>}
        {matching.length > MAX_SHOWN && <p className="muted">{matching.length - MAX_SHOWN} more: refine the search.</p>}
      </div>
    </fieldset>
  );
});
