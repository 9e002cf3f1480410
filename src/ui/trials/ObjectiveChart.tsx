import './evidence.css';
import { Bar, BarChart, CartesianGrid, Cell, Line, LineChart, ReferenceDot, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RankedTrial, TrialRanking } from '../../analysis';
import { objectiveChartKind, unitScale } from './chartKind';
import { sequentialColor } from './sequentialColor';
import { ternaryCorners, ternaryPoint } from './ternary';

const AXIS = { fill: 'var(--muted)', fontSize: 12 };
const TOOLTIP_STYLE = { background: 'var(--surface)', border: '1px solid var(--border)', color: 'var(--fg)' };

/** The objective over the weights: a line over w₁ (2 ingredients), a ternary plot (3), ranked bars otherwise. */
export function ObjectiveChart({ ranking, models }: { ranking: TrialRanking; models: string[] }) {
  const scored = ranking.ranked.filter((t): t is RankedTrial & { objective: number } => t.objective !== null);
  const kind = objectiveChartKind(models.length);
  return (
    <section className="card" aria-labelledby="objective-h" data-chart={kind}>
      <h3 id="objective-h">
        Objective per grid point{' '}
        <span className="muted">
          {kind === 'line' ? `(over the weight of ${models[0]})` : kind === 'ternary' ? '(ternary: each corner is one ingredient alone)' : '(best first)'}
        </span>
      </h3>
      {scored.length === 0 ? (
        <p className="muted">No trial has a complete objective.</p>
      ) : kind === 'line' ? (
        <LineOverW1 scored={scored} models={models} best={ranking.best} />
      ) : kind === 'ternary' ? (
        <Ternary scored={scored} models={models} best={ranking.best} />
      ) : (
        <RankedBars scored={scored} />
      )}
    </section>
  );
}

function LineOverW1({ scored, models, best }: { scored: (RankedTrial & { objective: number })[]; models: string[]; best: RankedTrial | null }) {
  const data = scored.map((t) => ({ w: t.normalized[0], objective: t.objective, id: t.id })).sort((a, b) => a.w - b.w);
  return (
    <div className="chart-box" role="img" aria-label={`Objective over the weight of ${models[0]}; best ${best?.id ?? 'none'}`}>
      <ResponsiveContainer width="100%" height={280}>
        <LineChart data={data} margin={{ top: 10, right: 20, bottom: 24, left: 0 }}>
          <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
          <XAxis
            dataKey="w"
            type="number"
            domain={[0, 1]}
            tick={AXIS}
            stroke="var(--muted)"
            label={{ value: `weight of ${models[0]} (${models[1]} = 1 − w)`, position: 'insideBottom', offset: -14, fill: 'var(--muted)', fontSize: 12 }}
          />
          <YAxis dataKey="objective" domain={['auto', 'auto']} tick={AXIS} stroke="var(--muted)" width={56} />
          <Tooltip contentStyle={TOOLTIP_STYLE} formatter={(v) => [Number(v).toFixed(2), 'objective']} labelFormatter={(w) => `w = ${Number(w).toFixed(2)}`} />
          <Line dataKey="objective" stroke="var(--accent)" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
          {best && best.objective !== null && <ReferenceDot x={best.normalized[0]} y={best.objective} r={7} fill="none" stroke="var(--ok)" strokeWidth={2} />}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

function Ternary({ scored, models, best }: { scored: (RankedTrial & { objective: number })[]; models: string[]; best: RankedTrial | null }) {
  const side = 300;
  const pad = { x: 70, top: 28, bottom: 40 };
  const h = (side * Math.sqrt(3)) / 2;
  const corners = ternaryCorners(side);
  const values = scored.map((t) => t.objective);
  const [min, max] = [Math.min(...values), Math.max(...values)];
  const gridLines = [0.2, 0.4, 0.6, 0.8].flatMap((f) =>
    [0, 1, 2].map((k) => {
      // The line where ingredient k has weight f.
      const a = [0, 0, 0];
      const b = [0, 0, 0];
      a[k] = f;
      a[(k + 1) % 3] = 1 - f;
      b[k] = f;
      b[(k + 2) % 3] = 1 - f;
      return [ternaryPoint(a, side), ternaryPoint(b, side)];
    }),
  );
  return (
    <div className="ternary">
      <svg
        viewBox={`${-pad.x} ${-pad.top} ${side + 2 * pad.x} ${h + pad.top + pad.bottom}`}
        className="ternary-svg"
        role="img"
        aria-label={`Ternary plot of ${scored.length} trials over ${models.join(', ')}; best ${best?.id ?? 'none'}`}
      >
        <polygon points={corners.map((c) => c.join(',')).join(' ')} className="ternary-frame" />
        {gridLines.map(([p, q], i) => (
          <line key={i} x1={p.x} y1={p.y} x2={q.x} y2={q.y} className="ternary-grid" />
        ))}
        {corners.map(([x, y], k) => (
          <text key={k} x={x} y={k === 2 ? y - 10 : y + 22} textAnchor={k === 0 ? 'start' : k === 1 ? 'end' : 'middle'} className="ternary-label">
            {models[k]}
          </text>
        ))}
        {scored.map((t) => {
          const p = ternaryPoint(t.normalized, side);
          return (
            <circle key={t.id} cx={p.x} cy={p.y} r={7} fill={sequentialColor(unitScale(t.objective, min, max))} className="ternary-point">
              <title>{`${t.id}: ${t.normalized.map((w, i) => `${models[i]} ${w.toFixed(2)}`).join(', ')} → ${t.objective.toFixed(2)}`}</title>
            </circle>
          );
        })}
        {best &&
          (() => {
            const p = ternaryPoint(best.normalized, side);
            return <circle cx={p.x} cy={p.y} r={11} className="ternary-best" />;
          })()}
      </svg>
      <div className="ternary-legend" aria-hidden="true">
        <span className="num">{min.toFixed(2)}</span>
        <span className="ternary-ramp" style={{ background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map((t) => sequentialColor(t)).join(', ')})` }} />
        <span className="num">{max.toFixed(2)}</span>
        <span className="muted">objective; ring: best</span>
      </div>
    </div>
  );
}

function RankedBars({ scored }: { scored: (RankedTrial & { objective: number })[] }) {
  const data = scored.slice(0, 30).map((t) => ({ id: t.id, objective: t.objective }));
  const [min, max] = [Math.min(...data.map((d) => d.objective)), Math.max(...data.map((d) => d.objective))];
  return (
    <div className="chart-box" role="img" aria-label={`The best ${data.length} trials by objective`}>
      <ResponsiveContainer width="100%" height={Math.max(160, data.length * 22 + 40)}>
        <BarChart data={data} layout="vertical" margin={{ top: 4, right: 20, bottom: 4, left: 10 }}>
          <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" horizontal={false} />
          <XAxis type="number" domain={['auto', 'auto']} tick={AXIS} stroke="var(--muted)" />
          <YAxis type="category" dataKey="id" width={120} tick={AXIS} stroke="var(--muted)" interval={0} />
          <Tooltip contentStyle={TOOLTIP_STYLE} formatter={(v) => [Number(v).toFixed(2), 'objective']} cursor={{ fill: 'var(--border)' }} />
          <Bar dataKey="objective" isAnimationActive={false}>
            {data.map((d) => (
              <Cell key={d.id} fill={sequentialColor(unitScale(d.objective, min, max))} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
