import { memo, useId, useState, type ReactNode } from 'react';
import { matchesSearch, sameList, toggleIn } from './candidates';
import type { PickerSection } from './pickerSections';
import { SkipToHeatmap } from './SkipToHeatmap';

/** A button that sets the whole selection at once ("All", "Leaf categories"); null is the default selection. */
export interface PickerShortcut {
  label: string;
  title?: string;
  value: string[] | null;
  disabled: boolean;
}

interface ChecklistPickerProps {
  /** The legend: what is picked and how many; the fieldset's accessible name. */
  legend: ReactNode;
  /** What one entry is, in the search field and its messages: "model", "category". */
  noun: { one: string; many: string };
  /** Every name that can be picked, in table order (selections keep this order). */
  names: string[];
  selected: string[];
  /** The selection that onChange reports as null ("the default"). */
  defaultSelection: string[];
  /** Lays out the names the search matched into lists. */
  arrange(matching: string[]): PickerSection[];
  shortcuts: PickerShortcut[];
  /** Offer "Only these N" and "Add N" for the names the search found. */
  searchActions?: boolean;
  /** Say which names are picked when they are some but not all. */
  summarize?: boolean;
  /** A link past a long list to the heatmap. */
  skipLabel?: string;
  onChange(selection: string[] | null): void;
}

/** More entries than this are left out of the list until the search narrows it (the DOM stays small). */
const MAX_SHOWN = 400;

/**
 * A searchable checklist of names for the Scores view: the categories to analyse and the candidate
 * models. Sections may tick as a whole (a base model's family) or start collapsed (aggregates).
 */
export const ChecklistPicker = memo(function ChecklistPicker(props: ChecklistPickerProps) {
  const { names, selected, defaultSelection, onChange, noun } = props;
  const [query, setQuery] = useState('');
  const searchId = useId();
  const matching = names.filter((n) => matchesSearch(n, query));
  const sections = props.arrange(matching.slice(0, MAX_SHOWN));
  const report = (next: string[]) => onChange(sameList(next, defaultSelection) ? null : next);
  const set = (picked: string[], on: boolean) => report(toggleIn(selected, picked, on, names));
  const nothingFound = query !== '' && matching.length === 0;
  return (
    <fieldset className="picker">
      <legend>{props.legend}</legend>
      <div className="picker-tools">
        <label htmlFor={searchId} className="visually-hidden">
          Search {noun.many}
        </label>
        <input id={searchId} type="search" placeholder={`Search ${noun.many}`} value={query} onChange={(e) => setQuery(e.target.value)} />
        {props.searchActions && query !== '' && matching.length > 0 && (
          <>
            <button type="button" onClick={() => report(matching)} title={`Make the ${noun.many} found the only ones picked`}>
              Only these {matching.length}
            </button>
            <button type="button" onClick={() => set(matching, true)} title={`Add the ${noun.many} found to those picked`}>
              Add {matching.length}
            </button>
          </>
        )}
      </div>
      <div className="picker-tools">
        {props.shortcuts.map((s) => (
          <button key={s.label} type="button" onClick={() => onChange(s.value)} disabled={s.disabled} title={s.title}>
            {s.label}
          </button>
        ))}
        {props.summarize && selected.length < names.length && selected.length > 0 && (
          <span className="muted picker-chosen" title={selected.join('\n')}>
            {selected.length <= 4 ? selected.join(', ') : `${selected.slice(0, 3).join(', ')} and ${selected.length - 3} more`}
          </span>
        )}
      </div>
      {props.skipLabel && <SkipToHeatmap label={props.skipLabel} />}
      <div className="picker-list-wrap">
        {sections.map((section) => {
          if (section.items.length === 0 && (nothingFound || !section.empty)) return null;
          const list = (
            <ul className="picker-list">
              {section.items.map((item) => (
                <li key={item.name}>
                  <label title={item.title}>
                    <input type="checkbox" checked={selected.includes(item.name)} onChange={(e) => set([item.name], e.target.checked)} /> {item.name}
                    {item.tag && <span className="muted picker-tag"> · {item.tag}</span>}
                  </label>
                </li>
              ))}
              {section.items.length === 0 && <li className="muted">{section.empty}</li>}
            </ul>
          );
          if (section.collapsed)
            return (
              <details key={section.label} className="picker-more" role="group" aria-label={section.label}>
                <summary>{section.collapsed}</summary>
                {list}
              </details>
            );
          return (
            <div key={section.label} role="group" aria-label={section.label}>
              {section.heading && <SectionBox heading={section.heading} names={section.items.map((i) => i.name)} selected={selected} set={set} />}
              {list}
            </div>
          );
        })}
        {nothingFound && (
          <p className="muted">
            No {noun.one} matches “{query}”.
          </p>
        )}
        {matching.length > MAX_SHOWN && <p className="muted">{matching.length - MAX_SHOWN} more: refine the search.</p>}
      </div>
    </fieldset>
  );
});

/** A section's own checkbox: ticked when all its names are, half-ticked when some are. */
function SectionBox({ heading, names, selected, set }: { heading: string; names: string[]; selected: string[]; set(names: string[], on: boolean): void }) {
  const all = names.every((m) => selected.includes(m));
  const some = names.some((m) => selected.includes(m));
  return (
    <label className="picker-group">
      <input
        type="checkbox"
        checked={all}
        ref={(el) => {
          if (el) el.indeterminate = some && !all;
        }}
        onChange={(e) => set(names, e.target.checked)}
      />{' '}
      {heading} <span className="muted">({names.length})</span>
    </label>
  );
}
