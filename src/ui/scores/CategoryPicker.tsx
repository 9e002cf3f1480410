import { memo, useId, useState } from 'react';
import type { ColumnKind, ScoreTable } from '../../analysis';
import { matchesSearch, toggleIn } from './candidates';

/** A short word for why a column is not a category by default (the full reason is its tooltip and in the notes). */
const KIND_LABEL: Record<ColumnKind, string> = {
  category: 'category',
  aggregate: 'aggregate',
  metadata: 'not a score',
  'lower-is-better': 'lower is better',
  sparse: 'sparse',
  twin: 'twin',
};

/** Categories to analyse: the table's leaf categories by default; aggregates and other columns on request. */
export const CategoryPicker = memo(function CategoryPicker({ table, selected, onChange }: { table: ScoreTable; selected: string[]; onChange(c: string[] | null): void }) {
  const [query, setQuery] = useState('');
  const searchId = useId();
  const order = table.columns.map((c) => c.name);
  const shown = table.columns.filter((c) => matchesSearch(c.name, query));
  const leaf = shown.filter((c) => table.categories.includes(c.name));
  const other = shown.filter((c) => !table.categories.includes(c.name));
  const isDefault = selected.length === table.categories.length && selected.every((c, i) => c === table.categories[i]);
  const set = (names: string[], on: boolean) => {
    const next = toggleIn(selected, names, on, order);
    onChange(next.length === table.categories.length && next.every((c, i) => c === table.categories[i]) ? null : next);
  };
  const box = (name: string, title?: string, tag?: string) => (
    <li key={name}>
      <label title={title}>
        <input type="checkbox" checked={selected.includes(name)} onChange={(e) => set([name], e.target.checked)} /> {name}
        {tag && <span className="muted picker-tag"> · {tag}</span>}
      </label>
    </li>
  );
  return (
    <fieldset className="picker">
      <legend>
        Categories <span className="muted">({selected.length} of {table.columns.length} numeric columns)</span>
      </legend>
      <div className="picker-tools">
        <label htmlFor={searchId} className="visually-hidden">
          Search categories
        </label>
        <input id={searchId} type="search" placeholder="Search categories" value={query} onChange={(e) => setQuery(e.target.value)} />
        <button type="button" onClick={() => onChange(null)} disabled={isDefault} title="The table's leaf categories, no aggregates">
          Leaf categories
        </button>
      </div>
      <ul className="picker-list" aria-label="Leaf categories">
        {leaf.map((c) => box(c.name, c.reason))}
        {leaf.length === 0 && <li className="muted">No leaf category matches.</li>}
      </ul>
      {other.length > 0 && (
        <details className="picker-more">
          <summary>
            Aggregates and other columns ({other.length}, off by default)
          </summary>
          <ul className="picker-list" aria-label="Aggregates and other columns">
            {other.map((c) => box(c.name, `${KIND_LABEL[c.kind]}: ${c.reason}`, KIND_LABEL[c.kind]))}
          </ul>
        </details>
      )}
    </fieldset>
  );
});
