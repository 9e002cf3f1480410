import type { ColumnKind, ScoreTable } from '../../analysis';
import { groupModels } from './candidates';

/** One name in a picker's list; title and tag say why it is (not) picked by default. */
export interface PickerItem {
  name: string;
  title?: string;
  tag?: string;
}

/** One list of a picker. */
export interface PickerSection {
  /** The list's accessible name, unique within the picker. */
  label: string;
  items: PickerItem[];
  /** When set, a checkbox with this text ticks the whole section. */
  heading?: string;
  /** When set, the section starts collapsed behind this summary. */
  collapsed?: string;
  /** Said in the list when nothing in it matches; without it an empty section is not shown. */
  empty?: string;
}

/** A short word for why a column is not a category by default (the full reason is its tooltip and in the notes). */
const KIND_LABEL: Record<ColumnKind, string> = {
  category: 'category',
  aggregate: 'aggregate',
  metadata: 'not a score',
  'lower-is-better': 'lower is better',
  sparse: 'sparse',
  twin: 'twin',
};

/** The table's leaf categories first; aggregates and other numeric columns collapsed, off by default. */
export function categorySections(table: ScoreTable, matching: readonly string[]): PickerSection[] {
  const found = new Set(matching);
  const shown = table.columns.filter((c) => found.has(c.name));
  const leaf = shown.filter((c) => table.categories.includes(c.name));
  const other = shown.filter((c) => !table.categories.includes(c.name));
  return [
    { label: 'Leaf categories', items: leaf.map((c) => ({ name: c.name, title: c.reason })), empty: 'No leaf category matches.' },
    {
      label: 'Aggregates and other columns',
      collapsed: `Aggregates and other columns (${other.length}, off by default)`,
      items: other.map((c) => ({ name: c.name, title: `${KIND_LABEL[c.kind]}: ${c.reason}`, tag: KIND_LABEL[c.kind] })),
    },
  ];
}

/** Candidate models grouped by base model, each family ticked as a whole; one plain list without a base column. */
export function candidateSections(matching: string[], bases: { column: string; byModel: Map<string, string> } | null): PickerSection[] {
  return groupModels(matching, bases?.byModel ?? null).map((g) => ({
    label: g.base && bases ? `${bases.column}: ${g.base}` : 'Models',
    heading: g.base ?? undefined,
    items: g.models.map((name) => ({ name })),
  }));
}
