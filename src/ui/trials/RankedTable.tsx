import { useState } from 'react';
import type { TrialRanking } from '../../analysis';

const SHOWN = 15;

/** Trials best first, with their normalised weights and objective. */
export function RankedTable({ ranking, models }: { ranking: TrialRanking; models: string[] }) {
  const [all, setAll] = useState(false);
  const rows = all ? ranking.ranked : ranking.ranked.slice(0, SHOWN);
  return (
    <section className="card" aria-labelledby="ranked-h">
      <h3 id="ranked-h">
        Trials by objective <span className="muted">({ranking.ranked.length}; normalised weights)</span>
      </h3>
      <div className="table-scroll">
        <table className="ranked-table">
          <thead>
            <tr>
              <th scope="col" className="num">
                Rank
              </th>
              <th scope="col">Trial</th>
              <th scope="col" className="num">
                Objective
              </th>
              {models.map((m) => (
                <th scope="col" key={m} className="num" title={m}>
                  {m}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.id} data-best={t.rank === 1 || undefined}>
                <td className="num">{t.rank ?? '—'}</td>
                <th scope="row">{t.id}</th>
                <td className="num">
                  <strong>{t.objective === null ? '—' : t.objective.toFixed(2)}</strong>
                </td>
                {t.normalized.map((w, j) => (
                  <td key={j} className="num">
                    {w === 0 ? <span className="muted">0</span> : w.toFixed(2)}
                  </td>
                ))}
              </tr>
            ))}
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
