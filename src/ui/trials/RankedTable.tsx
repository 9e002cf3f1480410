import './evidence.css';
import { useState } from 'react';
import type { ScoreTable, TrialRanking } from '../../analysis';

const SHOWN = 15;

/** The score columns to show: the trials' categories, then any other objective column, in table order. */
function scoreColumns(scores: ScoreTable, objective: string[]): string[] {
  const wanted = new Set([...scores.categories, ...objective]);
  return scores.columns.map((c) => c.name).filter((n) => wanted.has(n));
}

/** Trials best first: rank, objective, normalised weights per ingredient, then the score in each category. */
export function RankedTable({ ranking, models, scores }: { ranking: TrialRanking; models: string[]; scores: ScoreTable }) {
  const [all, setAll] = useState(false);
  const rows = all ? ranking.ranked : ranking.ranked.slice(0, SHOWN);
  const columns = scoreColumns(scores, ranking.objectiveColumns);
  const rowOf = new Map(scores.models.map((m, i) => [m, i]));
  const valuesOf = columns.map((c) => scores.columns.find((col) => col.name === c)!.values);
  const inObjective = new Set(ranking.objectiveColumns);
  return (
    <section className="card" aria-labelledby="ranked-h">
      <h3 id="ranked-h">
        Trials by objective <span className="muted">({ranking.ranked.length}; normalised weights, then the score in each category)</span>
      </h3>
      <div className="table-scroll">
        <table className="ranked-table">
          <thead>
            <tr className="ranked-groups">
              <td colSpan={3} />
              <th scope="colgroup" colSpan={models.length} className="ranked-group">
                Weights
              </th>
              {columns.length > 0 && (
                <th scope="colgroup" colSpan={columns.length} className="ranked-group">
                  Scores
                </th>
              )}
            </tr>
            <tr>
              <th scope="col" className="num">
                Rank
              </th>
              <th scope="col">Trial</th>
              <th scope="col" className="num" title={`Sum of ${ranking.objectiveColumns.join(', ')}`}>
                Objective
              </th>
              {models.map((m, j) => (
                <th scope="col" key={m} className={`num ranked-head${j === 0 ? ' ranked-first' : ''}`} title={m}>
                  {m}
                </th>
              ))}
              {columns.map((c, j) => (
                <th
                  scope="col"
                  key={c}
                  className={`num ranked-head${j === 0 ? ' ranked-first' : ''}`}
                  title={inObjective.has(c) ? `${c} (in the objective)` : `${c} (not in the objective)`}
                  data-objective={inObjective.has(c) || undefined}
                >
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => {
              const i = rowOf.get(t.id);
              return (
                <tr key={t.id} data-best={t.rank === 1 || undefined}>
                  <td className="num">{t.rank ?? '—'}</td>
                  <th scope="row">{t.id}</th>
                  <td className="num">
                    <strong>{t.objective === null ? '—' : t.objective.toFixed(2)}</strong>
                  </td>
                  {t.normalized.map((w, j) => (
                    <td key={j} className={`num${j === 0 ? ' ranked-first' : ''}`}>
                      {w === 0 ? <span className="muted">0</span> : w.toFixed(2)}
                    </td>
                  ))}
                  {valuesOf.map((values, j) => {
                    const v = i === undefined ? null : values[i];
                    return (
                      <td key={columns[j]} className={`num ranked-score${j === 0 ? ' ranked-first' : ''}`}>
                        {v === null ? <span className="muted">—</span> : v.toFixed(2)}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {ranking.ranked.length > SHOWN && (
        <button type="button" onClick={() => setAll(!all)}>
          {all ? `Show the best ${SHOWN}` : `Show all ${ranking.ranked.length}`}
        </button>
      )}
    </section>
  );
}
