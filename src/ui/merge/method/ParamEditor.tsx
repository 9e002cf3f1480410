import type { ParameterSpec } from '../../../merge/methods/types';
import { checkParamInput, conditionsText, type ParamInput } from './paramInput';

interface Props {
  spec: ParameterSpec;
  value: ParamInput | undefined;
  onChange: (value: ParamInput) => void;
  /** Empty is an error (slerp's t). */
  required: boolean;
  /** Unique in the page: the field's id. */
  id: string;
  /** The accessible name: "density", "density of demo-x". */
  label: string;
  /** What an empty field means: "default 1", "the global value". */
  unsetText: string;
  disabled?: boolean;
  /** Said before the description: "for every model (a card's own value wins)". */
  scope?: string;
}

/**
 * One parameter field, made from its declaration in the registry: a choice for true/false, a text
 * field for numbers (a comma list is a layer gradient where the parameter allows one), conditions
 * from a recipe shown whole. The error, when there is one, is said under the field and blocks the merge.
 */
export function ParamEditor({ spec, value, onChange, required, id, label, unsetText, disabled, scope }: Props) {
  const { error } = checkParamInput(spec, value, required);
  const errorId = `${id}-error`;
  const hint = `${scope ? `${scope}: ` : ''}${spec.description}${spec.level === 'recipe' || spec.kind === 'boolean' ? '' : ' — a comma list is a gradient over the layers'}`;
  let field;
  if (value !== undefined && typeof value !== 'string') {
    field = (
      <span className="param-conditions">
        <code title="conditions from the recipe: the first whose filter is part of the tensor name gives the value">{conditionsText(value.conditions)}</code>{' '}
        <button type="button" disabled={disabled} onClick={() => onChange('')}>
          Use one value
        </button>
      </span>
    );
  } else if (spec.kind === 'boolean') {
    field = (
      <select id={id} aria-label={label} value={value ?? ''} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{unsetText}</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else {
    field = (
      <input
        id={id}
        type="text"
        inputMode="decimal"
        aria-label={label}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        placeholder={required ? 'required' : unsetText}
        value={value ?? ''}
        disabled={disabled}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
    );
  }
  return (
    <div className={`param${error ? ' param-invalid' : ''}`} data-param={spec.name}>
      <label htmlFor={id} title={hint}>
        <code>{spec.name}</code>
      </label>
      {field}
      <span className="muted small param-hint">{hint}</span>
      {error && (
        <p id={errorId} className="error small param-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** "default 0.5", "default true", "unset" for a parameter's empty field. */
export function defaultText(spec: ParameterSpec): string {
  return spec.default !== undefined ? `default ${String(spec.default)}` : 'unset';
}
