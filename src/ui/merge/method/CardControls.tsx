import './method.css';
import type { ReactNode } from 'react';
import { useMethodStore } from '../../state/methodStore';
import { useSoupStore } from '../../state/soupStore';
import { weightOf } from '../../ingredients/soup';
import { cardParameters, methodOf, takesBase } from './methodSetup';
import { ParamEditor } from './ParamEditor';

/**
 * An ingredient card's part of the method: the base model's mark; else its weight (`weightControls`,
 * for methods with a weight) or an "In the merge" box (for those without), then its own parameters.
 */
export function CardControls({ id, name, weightControls }: { id: string; name: string; weightControls: ReactNode }) {
  const setup = useMethodStore();
  const method = methodOf(setup);
  const inMerge = useSoupStore((s) => weightOf(s.weights, name) !== 0);
  const setInMerge = useSoupStore((s) => s.setInMerge);
  if (takesBase(method) && setup.base === name) {
    return (
      <p className="base-mark">
        <span className="badge">base model</span> <span className="muted small">the other models are merged relative to it</span>
      </p>
    );
  }
  const weight = method.parameters.find((p) => p.name === 'weight');
  const own = setup.modelParams[name] ?? {};
  const params = cardParameters(method);
  return (
    <>
      {weight ? (
        weightControls
      ) : (
        <label className="in-merge">
          <input type="checkbox" checked={inMerge} onChange={(e) => setInMerge(name, e.currentTarget.checked)} /> In the merge
        </label>
      )}
      {inMerge && (params.length > 0 || (weight && own.weight !== undefined)) && (
        <div className="card-params">
          {/* A weight that varies by layer or tensor (from a recipe); emptied, the number above applies. */}
          {weight && own.weight !== undefined && (
            <ParamEditor id={`${id}-p-weight`} spec={weight} label={`weight of ${name}`} value={own.weight} required={false} unsetText="the weight above" onChange={(v) => setup.setModelParam(name, 'weight', v)} />
          )}
          {params.map((p) => (
            <ParamEditor
              key={p.name}
              id={`${id}-p-${p.name}`}
              spec={p}
              label={`${p.name} of ${name}`}
              value={own[p.name]}
              required={false}
              unsetText={setup.params[p.name] !== undefined ? 'the global value' : `${p.default !== undefined ? `default ${String(p.default)}` : 'unset'}`}
              onChange={(v) => setup.setModelParam(name, p.name, v)}
            />
          ))}
        </div>
      )}
    </>
  );
}
