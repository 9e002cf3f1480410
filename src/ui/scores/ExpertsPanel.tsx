import { useState } from 'react';
import { gridRecipes, ruleFormula, type AnalysisResult } from '../../analysis';
import { downloadText } from '../components/download';
import { useNavigationStore } from '../state/navigationStore';
import { useSoupStore } from '../state/soupStore';
import { useTrialsStore } from '../state/trialsStore';
import { proposedWeights, smallerExpertSet } from './proposal';
import { matchExperts } from '../../analysis/names';

const fmtScore = (v: number | null) => (v === null ? '—' : v.toFixed(2));

interface ExpertsPanelProps {
  analysis: AnalysisResult;
  sourceLabel: string;
  /** Base model per model (when the table says), to offer candidates of one base when the experts mix bases. */
  bases: { column: string; byModel: Map<string, string> } | null;
  onCandidates(models: string[]): void;
}

/** The experts table of the chosen mode, the expert set, and the hand-off to the soup. */
export function ExpertsPanel({ analysis, sourceLabel, bases, onCandidates }: ExpertsPanelProps) {
  const bestTrial = useTrialsStore((s) => s.bestTrial);
  const show = useNavigationStore((s) => s.show);
  const [sent, setSent] = useState<string | null>(null);
  const { experts, expertSet, mode } = analysis;
  const other = mode === 'paper' ? analysis.clustered : analysis.paper;
  const proposal = proposedWeights(expertSet, bestTrial);
  const pct = (w: number) => `${(w * 100).toFixed(w * 100 === Math.round(w * 100) ? 0 : 1)}%`;

  const { verdict, messages } = analysis.compatibility;
  const refused = verdict === 'refuse';
  const use = () => {
    if (refused) return;
    const how = proposal.source === 'best trial' ? 'weights of the best evaluated trial' : 'uniform weights';
    const caveat = verdict === 'warn' ? ` (warning: ${messages.join('; ')})` : '';
    const note = `SoCE ${mode} mode, τ = ${analysis.tau.toFixed(2)}, ${analysis.method} correlation on ${sourceLabel}: ${expertSet.length} experts, ${how}${caveat}`;
    useSoupStore.getState().proposeExperts(expertSet, proposal.weights, note);
    setSent(note);
    // The experts are in Ingredients now: go where they are.
    show('ingredients');
  };
  // A best trial speaks of this table only when it soups some of its models (trials of another table do not).
  const trialOfThisTable = bestTrial !== null && matchExperts(Object.keys(bestTrial.weights), analysis.rows).some((m) => m !== undefined);
  const smaller = smallerExpertSet(analysis);

  return (
    <section className="card" aria-labelledby="experts-h">
      <h3 id="experts-h">
        Experts{' '}
        <span className="muted">
          {mode === 'paper'
            ? `(paper mode: one per category of L — ${analysis.lowCorrelation.length} of ${analysis.categories.length} categories have ${ruleFormula(analysis.rule)} with another)`
            : `(clusters mode: one per cluster, on the cluster's mean score)`}
        </span>
      </h3>
      {experts.length === 0 ? (
        <p className="warning">No experts: {mode === 'paper' ? `no category has ${ruleFormula(analysis.rule)} with another. Raise τ or use the clusters mode.` : 'no clusters.'}</p>
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
      {smaller && (
        <p className="warning" data-testid="smaller-expert-set">
          The grid (step {analysis.grid.step}) cannot weigh {expertSet.length} experts: each gets little more than one step. Proposed instead: {smaller.join(', ')} — the {smaller.length} experts that lead the most categories.{' '}
          <button type="button" onClick={() => onCandidates(smaller)}>
            Use these {smaller.length} as candidates
          </button>
        </p>
      )}
      {messages.length > 0 && <Compatibility refused={refused} messages={messages} experts={expertSet} bases={bases} onCandidates={onCandidates} />}
      <div className="experts-actions">
        <button
          type="button"
          className="primary"
          onClick={use}
          disabled={expertSet.length === 0 || refused}
          aria-describedby={messages.length > 0 ? 'experts-compat' : undefined}
        >
          Use these experts
        </button>
        <span className="muted">
          {refused
            ? 'refused: these experts cannot be souped together (see above)'
            : proposal.source === 'best trial'
              ? 'with the best evaluated trial’s weights'
              : 'with uniform weights'}
          {!refused && proposal.source === 'uniform' && trialOfThisTable ? ' (the best trial is a soup of other models)' : ''}
          {verdict === 'warn' ? ' — read the warning above first' : ''}
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

interface CompatibilityProps {
  refused: boolean;
  messages: string[];
  experts: string[];
  bases: ExpertsPanelProps['bases'];
  onCandidates(models: string[]): void;
}

/** Why the experts cannot (or may not) be souped together, with a way out: candidates of one base model. */
function Compatibility({ refused, messages, experts, bases, onCandidates }: CompatibilityProps) {
  const families = new Map<string, number>();
  if (bases)
    for (const e of experts) {
      const b = bases.byModel.get(e);
      if (b) families.set(b, 0);
    }
  if (bases) for (const b of bases.byModel.values()) if (families.has(b)) families.set(b, families.get(b)! + 1);
  return (
    <div id="experts-compat" className={`compat ${refused ? 'compat-refuse' : 'compat-warn'}`} role="alert">
      <p>
        <strong>{refused ? 'These experts cannot be souped together:' : 'Check before souping:'}</strong> the table’s{' '}
        {refused ? 'columns say so' : 'columns raise a doubt'}.
      </p>
      <ul>
        {messages.map((m) => (
          <li key={m}>{m.charAt(0).toUpperCase() + m.slice(1)}.</li>
        ))}
      </ul>
      {families.size > 1 && bases && (
        <p className="compat-actions">
          Candidates of one base model only:{' '}
          {[...families].map(([base, n]) => (
            <button key={base} type="button" onClick={() => onCandidates([...bases.byModel].filter(([, b]) => b === base).map(([m]) => m))}>
              {base} ({n})
            </button>
          ))}
        </p>
      )}
    </div>
  );
}
