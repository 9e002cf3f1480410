import { useMemo } from 'react';
import { readyNames, useSoupStore } from '../state/soupStore';
import { formatWeight } from './format';
import { matchExperts } from './names';

/** The experts the Scores view proposed, matched to checkpoints by name, with a manual override. */
export function ExpertsPanel() {
  const proposal = useSoupStore((s) => s.proposal);
  const ingredients = useSoupStore((s) => s.ingredients);
  const overrides = useSoupStore((s) => s.expertOverrides);
  const setOverride = useSoupStore((s) => s.setExpertOverride);
  const apply = useSoupStore((s) => s.applyExpertWeights);
  const dismiss = useSoupStore((s) => s.dismissProposal);
  const names = useMemo(() => readyNames(ingredients), [ingredients]);
  const auto = useMemo(() => (proposal ? matchExperts(proposal.experts, names) : []), [proposal, names]);
  if (!proposal) return null;
  const matches = proposal.experts.map((e, i) => {
    const o = overrides[e];
    if (o === undefined) return auto[i];
    return o === '' || !names.includes(o) ? undefined : o;
  });
  const matched = matches.filter((m) => m !== undefined).length;
  return (
    <section className="card experts" aria-labelledby="experts-h">
      <h3 id="experts-h">Proposed experts</h3>
      {proposal.note && <p className="muted">{proposal.note}</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Expert (score table)</th>
            <th scope="col" className="num">Weight</th>
            <th scope="col">Checkpoint</th>
          </tr>
        </thead>
        <tbody>
          {proposal.experts.map((e, i) => (
            <tr key={e}>
              <td>{e}</td>
              <td className="num">{formatWeight(proposal.weights[i])}</td>
              <td>
                <select aria-label={`Checkpoint for ${e}`} value={matches[i] ?? ''} onChange={(ev) => setOverride(e, ev.currentTarget.value)}>
                  <option value="">— none —</option>
                  {names.map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
                {overrides[e] === undefined && auto[i] !== undefined && <span className="muted small"> matched by name</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <button type="button" className="primary" disabled={matched === 0} onClick={() => apply(matches)}>
          Use expert weights ({matched} of {proposal.experts.length} matched)
        </button>
        <button type="button" onClick={dismiss}>Dismiss</button>
      </div>
    </section>
  );
}
