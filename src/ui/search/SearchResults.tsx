import '../trials/evidence.css';
import type { ReactNode } from 'react';
import type { ItemNote, SearchEvidence, ScoredPoint } from '../../search/evidence';
import type { TrialRecord } from '../../search/runSearch';
import { objectiveRule } from '../../search/objective';
import { heldOutCsv, reportMarkdown, trialsCsv, weightsText } from '../../search/outputs';
import { planKeysOf } from '../../search/evidence';
import type { StoredSearch } from '../../browser/searchDb';
import { downloadText } from '../components/download';
import { useNavigationStore } from '../state/navigationStore';
import { useTrialsStore } from '../state/trialsStore';
import type { SearchSettings } from './protocol';
import { specOf } from './searchJob';
import { formatScore } from '../../eval/scores';
import type { CorrelationMatrix } from '../../analysis/correlation';
import { correlationColor, inkOn } from '../scores/colorScale';
import { ShapleyChart } from '../trials/ShapleyChart';
import { shapleyResultOf } from './derive';

const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
function signed(v: number): string {
  const s = Math.abs(v).toFixed(2);
  return s === '0.00' ? s : `${v < 0 ? '−' : '+'}${s}`;
}

/** Every trial in evaluation order: why it was evaluated, its weights, scores, objective, time; export any row. */
export function SearchTrialsTable({
  trials,
  ids,
  models,
  categories,
  bestKey,
  onExport,
  exportDisabled,
}: {
  trials: TrialRecord[];
  ids: string[];
  models: string[];
  categories: string[];
  bestKey: string | null;
  onExport(t: TrialRecord, id: string): void;
  exportDisabled: boolean;
}) {
  return (
    <section className="card" aria-labelledby="search-trials-h">
      <h3 id="search-trials-h">
        Trials <span className="muted">({trials.length}, in evaluation order; category scores on the tune split)</span>
      </h3>
      <div className="table-scroll">
        <table className="search-trials" aria-label="Search trials">
          <thead>
            <tr>
              <th scope="col">Trial</th>
              <th scope="col">Why</th>
              {models.map((m) => (
                <th scope="col" key={m} className="num" title={`weight of ${m}`}>
                  {m}
                </th>
              ))}
              {categories.map((c) => (
                <th scope="col" key={c} className="num">
                  {c}
                </th>
              ))}
              <th scope="col" className="num">
                Objective
              </th>
              <th scope="col" className="num">
                Held-out
              </th>
              <th scope="col" className="num">
                Time (s)
              </th>
              <th scope="col">
                <span className="visually-hidden">Export</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {trials.map((t, i) => (
              <tr key={t.key} data-key={t.key} data-best={t.key === bestKey || undefined}>
                <th scope="row">{ids[i]}</th>
                <td className="small">{t.kinds.join(', ')}</td>
                {t.weights.map((w, j) => (
                  <td key={j} className="num" data-weight={w}>
                    {w === 0 ? <span className="muted">0</span> : w.toFixed(2)}
                  </td>
                ))}
                {categories.map((c) => (
                  <td key={c} className="num" data-category={c} data-score={t.tune[c]}>
                    {t.tune[c] === undefined ? '—' : formatScore(Math.round(t.tune[c] * 100) / 100)}
                  </td>
                ))}
                <td className="num" data-objective={t.objective}>
                  <strong>{num(t.objective)}</strong>
                </td>
                <td className="num">{num(t.heldOutObjective)}</td>
                <td className="num">{(t.soupSeconds + t.evalSeconds).toFixed(2)}</td>
                <td>
                  <button type="button" className="link" disabled={exportDisabled} onClick={() => onExport(t, ids[i])} aria-label={`Export this soup (${ids[i]})`}>
                    Export this soup
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The paper's evidence for the best soup: the objective chart beside the Shapley bars, baselines and gain, consistency, items. */
export function EvidencePanel({ evidence, trials, chart }: { evidence: SearchEvidence; trials: TrialRecord[]; chart: ReactNode }) {
  return (
    <>
      <div className="search-grid">
        {chart}
        {evidence.shapley.players.length >= 2 ? <ShapleyChart shapley={shapleyResultOf(evidence, trials)} /> : <p className="muted">Shapley values need two players or more.</p>}
      </div>
      <SearchBaselines evidence={evidence} />
      <div className="search-grid">
        <Consistency evidence={evidence} />
        <Items evidence={evidence} />
      </div>
    </>
  );
}

function SearchBaselines({ evidence: e }: { evidence: SearchEvidence }) {
  const best = e.best;
  const rows: [string, ScoredPoint | null][] = [
    ['Best soup (of the plan)', best],
    [`Best single model${e.baselines.bestSingle ? ` (${e.baselines.bestSingle.model})` : ''}`, e.baselines.bestSingle],
    [`Uniform soup of all ${e.models.length}`, e.baselines.uniformAll],
    [`Uniform soup of the experts (${e.experts.join(', ')})`, e.baselines.uniformExperts],
    ...e.baselines.singles.map((s): [string, ScoredPoint] => [`${s.model} alone`, s]),
  ];
  return (
    <section className="card" aria-labelledby="search-baselines-h">
      <h3 id="search-baselines-h">Best soup and baselines</h3>
      <div className="table-scroll">
        <table className="baselines-table" aria-label="Search baselines">
          <thead>
            <tr>
              <th scope="col">Soup</th>
              <th scope="col">Weights</th>
              <th scope="col" className="num">
                Objective (tune)
              </th>
              <th scope="col" className="num">
                Held-out
              </th>
              <th scope="col" className="num">
                Δ best (tune)
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, p]) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                {p ? (
                  <>
                    <td className="small">{weightsText(p.weights, e.models)}</td>
                    <td className="num">{num(p.objective)}</td>
                    <td className="num">{num(p.heldOutObjective)}</td>
                    <td className="num">{best && p !== best ? signed(p.objective - best.objective) : ''}</td>
                  </>
                ) : (
                  <td colSpan={4} className="muted">
                    not evaluated yet
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {e.gain && (
        <p data-testid="search-gain">
          Gain of the best soup over the best single model: <strong>{signed(e.gain.tune)}</strong> on the tune split, <strong>{signed(e.gain.heldOut)}</strong> held out.
        </p>
      )}
    </section>
  );
}

function Matrix({ title, m, mean }: { title: string; m: CorrelationMatrix; mean: number | null }) {
  return (
    <div className="search-matrix">
      <h4>
        {title} <span className="muted small">(mean off-diagonal ρ {num(mean, 3)})</span>
      </h4>
      <table aria-label={`Category correlations across ${title}`}>
        <thead>
          <tr>
            <td />
            {m.categories.map((c) => (
              <th scope="col" key={c} className="num">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {m.categories.map((c, i) => (
            <tr key={c}>
              <th scope="row">{c}</th>
              {m.r[i].map((v, j) => {
                const bg = v === null ? undefined : correlationColor(v);
                return (
                  <td key={j} className="num" style={bg ? { background: bg, color: inkOn(bg) } : undefined}>
                    {v === null ? '—' : v.toFixed(2)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Consistency({ evidence: e }: { evidence: SearchEvidence }) {
  return (
    <section className="card" aria-labelledby="search-consistency-h">
      <h3 id="search-consistency-h">Consistency: category correlations before and after souping</h3>
      <p className="muted small">Pearson ρ between categories, across the single models and across the soups. The paper saw souping raise them: the soup is more uniformly good.</p>
      <div className="search-matrices">
        <Matrix title="the single models" m={e.consistency.ingredients} mean={e.consistency.meanIngredients} />
        <Matrix title="the soups" m={e.consistency.soups} mean={e.consistency.meanSoups} />
      </div>
    </section>
  );
}

function ItemList({ title, notes, testId }: { title: string; notes: ItemNote[]; testId: string }) {
  return (
    <div data-testid={testId}>
      <h4>
        {title} ({notes.length})
      </h4>
      {notes.length === 0 ? (
        <p className="muted small">none</p>
      ) : (
        <ul className="search-items">
          {notes.slice(0, 100).map((n) => (
            <li key={`${n.task}:${n.line}`}>
              <span className="muted small">
                {n.task} line {n.line}:
              </span>{' '}
              {n.query} → <strong>{n.answer}</strong>
            </li>
          ))}
          {notes.length > 100 && <li className="muted">… and {notes.length - 100} more</li>}
        </ul>
      )}
    </div>
  );
}

function Items({ evidence: e }: { evidence: SearchEvidence }) {
  return (
    <section className="card" aria-labelledby="search-items-h">
      <h3 id="search-items-h">Items (multiple choice)</h3>
      <ItemList title="Solved by the best soup, failed by every one of its ingredients" notes={e.items.solvedOnlyBySoup} testId="items-gained" />
      <ItemList title="Failed by the best soup, solved by every one of its ingredients" notes={e.items.lostBySoup} testId="items-lost" />
    </section>
  );
}

/** The search's results as the CLI writes them (trials.csv, held-out.csv, report.md, evidence.json), and the trials into the Trials view. */
export function SearchDownloads({ search, trials }: { search: StoredSearch<SearchSettings>; trials: TrialRecord[] }) {
  const loadTrials = useTrialsStore((s) => s.loadFile);
  const show = useNavigationStore((s) => s.show);
  const { settings, evidence } = search;
  const categories = evidence?.categories ?? Object.keys(trials[0]?.tune ?? {});
  const csv = () => trialsCsv(trials, settings.models, categories);
  const report = () => {
    const p = settings.plan;
    return reportMarkdown(evidence!, {
      plan: p.kind === 'list' ? `list ${p.file}` : `${p.kind}, step ${p.step}`,
      objective: objectiveRule(settings.metric),
      splitSeed: settings.splitSeed,
      tuneShare: settings.tuneShare,
      loader: search.loader ?? '—',
      evaluated: trials.length,
      trials: trials.length,
      planPoints: planKeysOf(trials, specOf(settings)).size,
      seconds: trials.reduce((a, t) => a + t.soupSeconds + t.evalSeconds, 0),
      cancelled: search.state !== 'done',
    });
  };
  return (
    <div className="taste-actions" role="group" aria-label="Search results as files">
      <button type="button" onClick={() => downloadText('trials.csv', csv(), 'text/csv')}>
        Download trials.csv
      </button>
      <button type="button" onClick={() => downloadText('held-out.csv', heldOutCsv(trials, settings.models, categories), 'text/csv')}>
        held-out.csv
      </button>
      <button type="button" disabled={!evidence} onClick={() => downloadText('report.md', report(), 'text/markdown')}>
        report.md
      </button>
      <button type="button" disabled={!evidence} onClick={() => downloadText('evidence.json', `${JSON.stringify(evidence, null, 2)}\n`, 'application/json')}>
        evidence.json
      </button>
      <button type="button" onClick={() => void loadTrials({ name: 'search-trials.csv', text: csv() }, objectiveRule(settings.metric)).then(() => show('trials'))}>
        Open in Trials
      </button>
    </div>
  );
}
