import { groupProblems, summarizeProblems, SET_ASIDE_KINDS, type ScoreTable } from '../../analysis';

/** Long lists are cut here inside each kind; the count says how many more. */
const SHOWN_PER_KIND = 50;
/** Up to this many problems are shown open; more are summarised in one collapsed line. */
const OPEN_UP_TO = 3;

const KIND_WORDS: Record<string, string> = { 'lower-is-better': 'lower is better', sparse: 'sparse', twin: 'twin' };

/**
 * What the reader noticed about the table, kept short so the heatmap stays on the first screen: one
 * line for the problems (by kind, the list collapsed), one for the result columns left out of the
 * categories (with each reason inside), and the routine notes on aggregates and metadata.
 */
export function TableProblems({ table }: { table: ScoreTable }) {
  const warnings = table.problems.filter((p) => p.severity === 'warning');
  const setAside = table.columns.filter((c) => SET_ASIDE_KINDS.includes(c.kind));
  const direction = table.problems.filter((p) => p.code === 'direction');
  const notes = table.problems.filter((p) => p.severity === 'info' && p.code === undefined);
  if (warnings.length === 0 && setAside.length === 0 && direction.length === 0 && notes.length === 0) return null;
  return (
    <div className="card table-problems" aria-label="Notes on the table">
      {warnings.length > 0 && (
        <details className="problems-warnings" open={warnings.length <= OPEN_UP_TO}>
          <summary>
            <strong className="warning">{summarizeProblems(warnings).replace(/^(\d+) problems?/, (m) => `${m} in the table`)}</strong>
          </summary>
          {groupProblems(warnings).map((g) => (
            <div key={g.code ?? 'other'}>
              {g.problems.length < warnings.length && (
                <p className="muted problems-kind">
                  {g.problems.length} {g.label}
                </p>
              )}
              <ul>
                {g.problems.slice(0, SHOWN_PER_KIND).map((p, i) => (
                  <li key={i}>{p.message}</li>
                ))}
              </ul>
              {g.problems.length > SHOWN_PER_KIND && <p className="muted">… and {g.problems.length - SHOWN_PER_KIND} more like these.</p>}
            </div>
          ))}
        </details>
      )}
      {setAside.length > 0 && (
        <details className="problems-set-aside">
          <summary>
            <strong>
              {setAside.length} result column{setAside.length === 1 ? '' : 's'} left out of the categories:
            </strong>{' '}
            {setAside.map((c, i) => (
              <span key={c.name}>
                {i > 0 && ', '}
                {c.name} <span className="muted">({KIND_WORDS[c.kind] ?? c.kind})</span>
              </span>
            ))}
          </summary>
          <ul>
            {setAside.map((c) => (
              <li key={c.name}>
                <strong>{c.name}</strong>: {c.reason}.
              </li>
            ))}
          </ul>
          <p className="muted">Tick one under “Aggregates and other columns” in Categories to use it anyway.</p>
        </details>
      )}
      {direction.map((p) => (
        <p key={p.message} className="muted problems-direction">
          {p.message}
        </p>
      ))}
      {notes.length > 0 && (
        <details>
          <summary>
            {notes.length} note{notes.length === 1 ? '' : 's'} on the columns (aggregates and metadata are not categories by default)
          </summary>
          <ul>
            {notes.map((p, i) => (
              <li key={i}>{p.message}</li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
