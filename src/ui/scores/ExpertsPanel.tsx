import { useState } from 'react';
import { gridRecipes, type AnalysisResult } from '../../analysis';
import { useNavigationStore } from '../state/navigationStore';
import { useSoupStore } from '../state/soupStore';
import { useTrialsStore } from '../state/trialsStore';
import { proposedWeights } from './proposal';

function downloadText(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const fmtScore = (v: number | null) => (v === null ? '—' : v.toFixed(2));

/** The experts table of the chosen mode, the expert set, and the hand-off to the soup. */
export function ExpertsPanel({ analysis, sourceLabel }: { analysis: AnalysisResult; sourceLabel: string }) {
  const bestTrial = useTrialsStore((s) => s.bestTrial);
  const show = useNavigationStore((s) => s.show);
  const [sent, setSent] = useState<string | null>(null);
  const { experts, expertSet, mode } = analysis;
  const other = mode === 'paper' ? analysis.clustered : analysis.paper;
  const proposal = proposedWeights(expertSet, bestTrial);
  const pct = (w: number) => `${(w * 100).toFixed(w * 100 === Math.round(w * 100) ? 0 : 1)}%`;

  const use = () => {
    const how = proposal.source === 'best trial' ? 'weights of the best evaluated trial' : 'uniform weights';
    const note = `SoCE ${mode} mode, τ = ${analysis.tau.toFixed(2)}, ${analysis.method} correlation on ${sourceLabel}: ${expertSet.length} experts, ${how}`;
    useSoupStore.getState().proposeExperts(expertSet, proposal.weights, note);
    setSent(note);
  };

  return (
    <section className="card" aria-labelledby="experts-h">
      <h3 id="experts-h">
        Experts{' '}
        <span className="muted">
          {mode === 'paper'
            ? `(paper mode: one per category of L — ${analysis.lowCorrelation.length} of ${analysis.categories.length} categories have |ρ| < τ with another)`
            : `(clusters mode: one per cluster, on the cluster's mean score)`}
        </span>
      </h3>
      {experts.length === 0 ? (
        <p className="warning">No experts: {mode === 'paper' ? 'no category has |ρ| < τ with another. Raise τ or use the clusters mode.' : 'no clusters.'}</p>
      ) : (
        <div className="table-scroll">
          <table className="experts-table">
            <thead>
              <tr>
                <th scope="col">{mode === 'paper' ? 'Category' : 'Cluster'}</th>
                <th scope="col">Expert</th>
                <th scope="col" className="num">
                  Score
                </th>
                <th scope="col">Next best</th>
              </tr>
            </thead>
            <tbody>
              {experts.map((p) => (
                <tr key={p.key}>
                  <th scope="row" title={p.categories.join(', ')}>
                    {p.key}
                  </th>
                  <td>{p.model ?? <span className="warning">no candidate has a score</span>}</td>
                  <td className="num">{fmtScore(p.score)}</td>
                  <td className="muted">
                    {p.runnerUp ? `${p.runnerUp.model} ${fmtScore(p.runnerUp.score)} (−${(p.score! - p.runnerUp.score).toFixed(2)})` : '—'}
                    {p.tiedWith.length > 0 ? ` · tied: ${p.tiedWith.join(', ')}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="expert-set" aria-label="Expert set">
        <strong>Expert set ({expertSet.length}):</strong>{' '}
        {expertSet.length === 0 && <span className="muted">none</span>}
        {expertSet.map((m, i) => (
          <span className="chip" key={m} data-expert={m}>
            {m} <span className="muted">{pct(proposal.weights[i])}</span>
          </span>
        ))}
      </div>
      <p className="muted">
        {other.mode === 'paper' ? 'Paper' : 'Clusters'} mode would give: {other.expertSet.length > 0 ? other.expertSet.join(', ') : 'no experts'}.
      </p>
      {analysis.warnings.length > 0 && (
        <ul className="warnings">
          {analysis.warnings.map((w) => (
            <li key={w} className="warning">
              {w}
            </li>
          ))}
        </ul>
      )}
      <div className="experts-actions">
        <button type="button" className="primary" onClick={use} disabled={expertSet.length === 0}>
          Use these experts
        </button>
        <span className="muted">
          {proposal.source === 'best trial' ? 'with the best evaluated trial’s weights' : 'with uniform weights'}
          {proposal.source === 'uniform' && bestTrial ? ' (the best trial is a soup of other models)' : ''}
        </span>
        <button
          type="button"
          disabled={expertSet.length < 2}
          onClick={() => {
            const batch = gridRecipes(expertSet.map((name) => ({ name, checkpoint: name })), analysis.grid);
            downloadText('grid-index.csv', batch.indexCsv, 'text/csv');
          }}
          title="One row per grid point with its weights: merge and evaluate each, add score columns, import it in Trials"
        >
          Download grid ({analysis.grid.points.length} soups, CSV)
        </button>
      </div>
      {sent && (
        <p className="ok" aria-live="polite">
          Sent to the soup: {sent}.{' '}
          <button type="button" onClick={() => show('ingredients')}>
            Open Ingredients
          </button>
        </p>
      )}
    </section>
  );
}
