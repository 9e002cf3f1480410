import { useState } from 'react';
import { formatRho, type HeatmapModel } from './heatmapModel';

/** The matrix as an HTML table, for screen readers and copying; rendered only when opened. */
export function CorrelationTable({ model }: { model: HeatmapModel }) {
  const [open, setOpen] = useState(false);
  const k = model.order.length;
  return (
    <details className="corr-table" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Correlations as a table</summary>
      {open && (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Correlation ρ (n models) in cluster order; * marks |ρ| &lt; τ, † anti-correlated pairs (ρ ≤ −τ)</caption>
            <thead>
              <tr>
                <th scope="col">Category</th>
                {model.order.map((_, j) => (
                  <th scope="col" key={j} className="num">
                    {j + 1}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {model.order.map((name, i) => (
                <tr key={name}>
                  <th scope="row">
                    {i + 1}. {name}
                  </th>
                  {model.cells.slice(i * k, (i + 1) * k).map((c) => (
                    <td key={c.col} className="num" title={`n = ${c.n}`}>
                      {formatRho(c.rho)}
                      {c.low ? '*' : c.anti ? '†' : ''}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}
