import './evidence.css';
import type { RankedTrial, TrialRanking } from '../../analysis';

/** "+1.20", "−3.40" (a true minus sign), "0.00". */
function signed(v: number): string {
  const s = Math.abs(v).toFixed(2);
  return s === '0.00' ? s : `${v < 0 ? '−' : '+'}${s}`;
}

interface Row {
  label: string;
  detail: string;
  trial: RankedTrial | null;
  why: string;
}

/** The best soup beside the paper's baselines: best single model, uniform of all, uniform of the experts. */
export function Baselines({
  ranking,
  models,
  experts,
}: {
  ranking: TrialRanking;
  models: string[];
  experts: { names: string[] } | { missing: string[] } | null;
}) {
  const b = ranking.baselines;
  const weights = (t: RankedTrial) =>
    t.normalized.flatMap((w, i) => (w > 0 ? [`${models[i]} ${w.toFixed(2)}`] : [])).join(', ');
  const rows: Row[] = [
    { label: 'Best trial', detail: ranking.best ? weights(ranking.best) : '', trial: ranking.best, why: 'no trial has every objective score' },
    {
      label: 'Best single model',
      detail: b.bestSingle ? b.bestSingle.model : '',
      trial: b.bestSingle,
      why: 'no trial puts all its weight on one model',
    },
    {
      label: `Uniform soup of all ${models.length}`,
      detail: models.join(', '),
      trial: b.uniformAll,
      why: 'not among the trials: add the uniform soup of every ingredient',
    },
    {
      label: 'Uniform soup of the experts',
      detail: experts && 'names' in experts ? experts.names.join(', ') : '',
      trial: b.uniformExperts,
      why:
        experts === null
          ? 'no expert set: pick experts in the Scores view'
          : 'missing' in experts
            ? `the Scores view's experts ${experts.missing.map((m) => `"${m}"`).join(', ')} have no weight column here`
            : 'not among the trials: add the uniform soup of the experts',
    },
  ];
  const best = ranking.best?.objective ?? null;
  return (
    <section className="card" aria-labelledby="baselines-h">
      <h3 id="baselines-h">
        Baselines <span className="muted">(objective: sum of {ranking.objectiveColumns.length} column{ranking.objectiveColumns.length === 1 ? '' : 's'})</span>
      </h3>
      <div className="table-scroll">
        <table className="baselines-table">
          <thead>
            <tr>
              <th scope="col">Soup</th>
              <th scope="col">Trial</th>
              <th scope="col" className="num">
                Objective
              </th>
              <th scope="col" className="num">
                Δ best
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.label}>
                <th scope="row">
                  {r.label}
                  {r.detail && <div className="muted small">{r.detail}</div>}
                </th>
                {r.trial && r.trial.objective !== null ? (
                  <>
                    <td>{r.trial.id}</td>
                    <td className="num">{r.trial.objective.toFixed(2)}</td>
                    <td className="num">{best === null || r.label === 'Best trial' ? '' : signed(r.trial.objective - best)}</td>
                  </>
                ) : (
                  <td colSpan={3} className="muted">
                    {r.why}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
