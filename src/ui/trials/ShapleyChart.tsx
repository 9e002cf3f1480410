import './evidence.css';
import { Bar, BarChart, CartesianGrid, Cell, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { ShapleyResult } from '../../analysis';

const AXIS = { fill: 'var(--muted)', fontSize: 12 };
const MISSING_SHOWN = 12;

/** Shapley value of each ingredient (a coalition's value: its uniform soup's objective), or which coalitions are missing. */
export function ShapleyChart({ shapley }: { shapley: ShapleyResult }) {
  const data = shapley.players.map((p, i) => ({ player: p, phi: shapley.values[i] }));
  return (
    <section className="card" aria-labelledby="shapley-h">
      <h3 id="shapley-h">
        Shapley values <span className="muted">(players: ingredients; a coalition is worth its uniform soup's objective; empty = {shapley.emptyValue})</span>
      </h3>
      {shapley.exact ? (
        <>
          <div className="chart-box" role="img" aria-label={`Shapley values: ${data.map((d) => `${d.player} ${d.phi?.toFixed(2)}`).join(', ')}`}>
            <ResponsiveContainer width="100%" height={Math.max(120, data.length * 34 + 40)}>
              <BarChart data={data} layout="vertical" margin={{ top: 4, right: 56, bottom: 4, left: 10 }}>
                <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" horizontal={false} />
                <XAxis type="number" tick={AXIS} stroke="var(--muted)" />
                <YAxis type="category" dataKey="player" width={170} tick={AXIS} stroke="var(--muted)" interval={0} />
                <ReferenceLine x={0} stroke="var(--muted)" />
                <Tooltip
                  contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', color: 'var(--fg)' }}
                  formatter={(v) => [Number(v).toFixed(3), 'φ']}
                  cursor={{ fill: 'var(--border)' }}
                />
                <Bar dataKey="phi" isAnimationActive={false} label={{ position: 'right', fill: 'var(--fg)', fontSize: 12, formatter: (v: unknown) => Number(v).toFixed(2) }}>
                  {data.map((d) => (
                    <Cell key={d.player} fill={(d.phi ?? 0) >= 0 ? 'var(--accent)' : 'var(--danger)'} />
                  ))}
                </Bar>
              </BarChart>
            </ResponsiveContainer>
          </div>
          <p className="muted small">
            From {shapley.coalitions.length} evaluated coalitions; the values sum to the full soup's objective minus the empty value.
          </p>
        </>
      ) : (
        <div className="shapley-missing">
          <p className="warning">
            Shapley values need the uniform soup of every coalition of the {shapley.players.length} ingredients ({2 ** shapley.players.length - 1} soups); {shapley.missing.length}{' '}
            {shapley.missing.length === 1 ? 'is' : 'are'} not among the trials:
          </p>
          <ul>
            {shapley.missing.slice(0, MISSING_SHOWN).map((m) => (
              <li key={m.join('|')}>{m.length === 1 ? `${m[0]} alone` : `uniform soup of ${m.join(', ')}`}</li>
            ))}
          </ul>
          {shapley.missing.length > MISSING_SHOWN && <p className="muted">and {shapley.missing.length - MISSING_SHOWN} more.</p>}
        </div>
      )}
      {shapley.problems.map((p) => (
        <p key={p} className="warning small">
          {p}
        </p>
      ))}
    </section>
  );
}
