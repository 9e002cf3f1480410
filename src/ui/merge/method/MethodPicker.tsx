import { MERGE_METHODS } from '../../../merge/methods/registry';
import type { MergeMethod } from '../../../merge/methods/types';
import { DocsLink } from '../../components/DocsLink';

/** What a method needs of the models, in words, from its declaration. */
function needsText(m: MergeMethod): string {
  const { min, max } = m.needs.models;
  const n = max === undefined ? `${min} or more models` : max === min ? `exactly ${min} model${min > 1 ? 's' : ''}` : `${min} to ${max} models`;
  switch (m.needs.base) {
    case 'required':
      return `A base model and ${n} besides it.`;
    case 'optional':
      return `${n[0].toUpperCase()}${n.slice(1)}; a base model is optional.`;
    case 'ignored':
      return `${n[0].toUpperCase()}${n.slice(1)}.`;
  }
}

/** Every method of the registry, with its description, reference and needs. */
export function MethodPicker({ method, onChange, disabled }: { method: MergeMethod; onChange: (name: string) => void; disabled?: boolean }) {
  return (
    <div className="method-picker">
      <label>
        Merge method{' '}
        <select aria-label="Merge method" value={method.name} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value)}>
          {MERGE_METHODS.map((m) => (
            <option key={m.name} value={m.name}>
              {m.title} ({m.name})
            </option>
          ))}
        </select>
      </label>
      <p className="method-description" data-testid="method-description">
        {method.description}{' '}
        <a href={method.reference.url} target="_blank" rel="noreferrer">
          {method.reference.label}
        </a>
      </p>
      <p className="muted small">
        {needsText(method)}
        {method.needs.random ? ' Draws random masks: set random_seed to reproduce a merge (else one is drawn and recorded in the output).' : ''}{' '}
        <DocsLink page="merge-methods.md">Every method and its parameters</DocsLink>
      </p>
    </div>
  );
}
