import '../trials/evidence.css';
import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { TaskResult } from '../../eval/evaluate';
import { categoryScore, scoreUnit, type ChoiceMetric } from '../../eval/scores';
import type { ModelResult } from './protocol';
import { categoriesOf } from './tables';

const AXIS = { fill: 'var(--muted)', fontSize: 12 };

function resultOf(r: ModelResult, task: string): TaskResult | undefined {
  return r.results.find((t) => t.name === task);
}

function formatCell(t: TaskResult, metric: ChoiceMetric): string {
  const s = categoryScore(t, metric);
  return t.kind === 'multiple_choice' ? `${s.toFixed(1)} %` : s.toFixed(3);
}

/** One bar chart per task: every evaluated model's score on it, the soup in the accent colour. */
export function TasteCharts({ results, metric }: { results: ModelResult[]; metric: ChoiceMetric }) {
  const tasks = categoriesOf(results);
  return (
    <div className="taste-charts">
      {tasks.map((task) => {
        const data = results.flatMap((r) => {
          const t = resultOf(r, task);
          return t ? [{ model: r.model, role: r.role, score: categoryScore(t, metric), kind: t.kind }] : [];
        });
        const unit = data[0] ? scoreUnit(data[0].kind, metric) : '';
        return (
          <section key={task} className="card taste-chart" aria-label={`${task} scores`}>
            <h4>
              {task} <span className="muted small">({unit})</span>
            </h4>
            <div className="chart-box" role="img" aria-label={`${task}: ${data.map((d) => `${d.model} ${d.score.toFixed(3)}`).join(', ')}`}>
              <ResponsiveContainer width="100%" height={data.length * 30 + 40}>
                <BarChart data={data} layout="vertical" margin={{ top: 4, right: 56, bottom: 4, left: 10 }}>
                  <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" horizontal={false} />
                  <XAxis type="number" tick={AXIS} stroke="var(--muted)" domain={data[0]?.kind === 'multiple_choice' ? [0, 100] : ['auto', 0]} />
                  <YAxis type="category" dataKey="model" width={170} tick={AXIS} stroke="var(--muted)" interval={0} />
                  <Tooltip
                    contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', color: 'var(--fg)' }}
                    formatter={(v) => [Number(v).toFixed(3), unit]}
                    cursor={{ fill: 'var(--border)' }}
                  />
                  <Bar dataKey="score" isAnimationActive={false} label={{ position: 'right', fill: 'var(--fg)', fontSize: 12, formatter: (v: unknown) => Number(v).toFixed(2) }}>
                    {data.map((d) => (
                      <Cell key={d.model} fill={d.role === 'soup' ? 'var(--accent)' : 'var(--muted)'} />
                    ))}
                  </Bar>
                </BarChart>
              </ResponsiveContainer>
            </div>
          </section>
        );
      })}
    </div>
  );
}

/**
 * Models × tasks. Each cell carries the engine's numbers in data attributes (acc, acc_norm; perplexity,
 * tokens) at full precision, for people who copy them and for the end-to-end test.
 */
export function TasteTable({ results, metric }: { results: ModelResult[]; metric: ChoiceMetric }) {
  const tasks = categoriesOf(results);
  return (
    <div className="table-scroll">
      <table className="taste-table" aria-label="Taste scores">
        <thead>
          <tr>
            <th scope="col">Model</th>
            {tasks.map((t) => {
              const kind = results.map((r) => resultOf(r, t)).find((x) => x)?.kind ?? 'multiple_choice';
              return (
                <th key={t} scope="col" className="num">
                  {t} <span className="muted small">({scoreUnit(kind, metric)})</span>
                </th>
              );
            })}
            <th scope="col" className="num">
              Time
            </th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr key={r.model} data-model={r.model} data-role={r.role}>
              <th scope="row">
                {r.model}
                {r.role === 'soup' && <span className="muted small"> (the soup)</span>}
              </th>
              {tasks.map((task) => {
                const t = resultOf(r, task);
                if (!t) return <td key={task}>—</td>;
                const attrs =
                  t.kind === 'multiple_choice'
                    ? { 'data-acc': String(t.acc), 'data-acc-norm': String(t.acc_norm), title: `acc ${(100 * t.acc).toFixed(2)} %, acc_norm ${(100 * t.acc_norm).toFixed(2)} % over ${t.items.length} items` }
                    : { 'data-perplexity': String(t.perplexity), 'data-tokens': String(t.tokens), 'data-bits-per-byte': String(t.bits_per_byte), title: `perplexity ${t.perplexity.toFixed(3)} per token over ${t.tokens} tokens; ${t.bits_per_byte.toFixed(4)} bits/byte` };
                return (
                  <td key={task} className="num" data-task={task} {...attrs}>
                    {formatCell(t, metric)}
                  </td>
                );
              })}
              <td className="num">{r.seconds.toFixed(1)} s</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
