import './method.css';
import { readyNames, useSoupStore } from '../../state/soupStore';
import { useMethodStore } from '../../state/methodStore';
import { GpuNote } from './GpuNote';
import { SlicesView } from './SlicesView';
import { MethodPicker } from './MethodPicker';
import { methodOf, modelCountProblem, panelParameters, requiredAtTop, takesBase } from './methodSetup';
import { defaultText, ParamEditor } from './ParamEditor';

/** The merge method, its base model and its global parameters; per-model ones are on the cards. */
export function MethodPanel({ members }: { members: number }) {
  const setup = useMethodStore();
  const ingredients = useSoupStore((s) => s.ingredients);
  const method = methodOf(setup);
  const ready = readyNames(ingredients);
  const params = panelParameters(method);
  const countProblem = setup.slices ? undefined : modelCountProblem(method, members, takesBase(method) ? setup.base : null);
  return (
    <section className="card method" aria-labelledby="method-h">
      <h3 id="method-h">Method</h3>
      <MethodPicker method={method} onChange={setup.setMethod} />
      {takesBase(method) && (
        <label className="base-choice">
          Base model{method.needs.base === 'optional' ? ' (optional)' : ''}{' '}
          <select aria-label="Base model" value={setup.base ?? ''} onChange={(e) => setup.setBase(e.currentTarget.value === '' ? null : e.currentTarget.value)}>
            <option value="">{method.needs.base === 'optional' ? 'none' : 'choose…'}</option>
            {ready.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      )}
      {setup.slices && <SlicesView slices={setup.slices} onDrop={setup.dropSlices} />}
      {countProblem && (
        <p className="error small" role="status" data-testid="method-count">
          {countProblem}
        </p>
      )}
      {params.length > 0 && (
        <fieldset className="params">
          <legend>Parameters</legend>
          {params.map((p) => (
            <ParamEditor
              key={p.name}
              id={`param-${p.name}`}
              spec={p}
              label={p.name}
              value={setup.params[p.name]}
              required={requiredAtTop(p)}
              unsetText={defaultText(p)}
              scope={p.level === 'model' ? "for every model (a card's own value wins)" : undefined}
              onChange={(v) => setup.setParam(p.name, v)}
            />
          ))}
        </fieldset>
      )}
      <GpuNote method={method.name} />
    </section>
  );
}
