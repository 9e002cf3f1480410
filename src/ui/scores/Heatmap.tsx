import { memo, useId, useMemo, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { clusterColor } from './clusterColors';
import { HatchPattern } from './HatchPattern';
import { correlationColor, inkOn } from './colorScale';
import { formatRho, moveInGrid, type HeatCell, type HeatmapModel } from './heatmapModel';

interface Geometry {
  size: number;
  cell: number;
  labelW: number;
  gridX: number;
  gridY: number;
  width: number;
  height: number;
}

function geometry(order: string[]): Geometry {
  const size = order.length;
  const cell = size <= 8 ? 40 : size <= 16 ? 30 : size <= 24 ? 24 : size <= 32 ? 19 : 16;
  const longest = order.reduce((m, s) => Math.max(m, s.length), 0);
  const labelW = Math.min(250, Math.max(60, Math.round((longest + 4) * 6.6)));
  const gridX = labelW + 12;
  const gridY = 22;
  return { size, cell, labelW, gridX, gridY, width: gridX + size * cell + 4, height: gridY + size * cell + 4 };
}

const cellId = (prefix: string, r: number, c: number) => `${prefix}-${r}-${c}`;

function describe(c: HeatCell): string {
  const base = `${c.rowName} × ${c.colName}: ρ = ${formatRho(c.rho)}, n = ${c.n}`;
  if (c.rho === null) return `${base} (fewer than 3 shared models or a constant score)`;
  if (c.low) return `${base}, |ρ| below τ`;
  return c.anti ? `${base}, anti-correlated (ρ at or below −τ)` : base;
}

/** An anti-correlated pair's mark: a minus bar, unlike the weak pairs' dot (shape, not colour alone). */
export function AntiMark({ x, y, cell, fill }: { x: number; y: number; cell: number; fill: string }) {
  const w = Math.max(6, cell * 0.44);
  const h = Math.max(2, cell * 0.1);
  return <rect x={x + (cell - w) / 2} y={y + (cell - h) / 2} width={w} height={h} fill={fill} pointerEvents="none" aria-hidden="true" className="hm-anti" />;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

interface HeatRowProps {
  name: string;
  index: number;
  cells: HeatCell[];
  g: Geometry;
  prefix: string;
  maxChars: number;
}

/** One heatmap row; redrawn only when its cells' values or marks change (τ moves touch few rows). */
const HeatRow = memo(
  function HeatRow({ name, index: i, cells, g, prefix, maxChars }: HeatRowProps) {
    return (
      <g role="row" aria-rowindex={i + 1}>
        <text role="rowheader" x={g.labelW} y={g.gridY + i * g.cell + g.cell / 2} className="hm-rowlabel" textAnchor="end" dominantBaseline="central">
          <title>{name}</title>
          {truncate(name, maxChars)}
          <tspan className="hm-rownum" dx="5">
            {i + 1}
          </tspan>
        </text>
        {cells.map((c) => {
          const x = g.gridX + c.col * g.cell;
          const y = g.gridY + c.row * g.cell;
          const fill = c.rho === null ? undefined : correlationColor(c.rho);
          return (
            <g key={c.col}>
              <rect
                id={cellId(prefix, c.row, c.col)}
                role="gridcell"
                aria-label={describe(c)}
                aria-colindex={c.col + 1}
                data-row={c.row}
                data-col={c.col}
                data-rho={c.rho === null ? 'undefined' : c.rho.toFixed(4)}
                data-low={c.low || undefined}
                data-anti={c.anti || undefined}
                x={x}
                y={y}
                width={g.cell}
                height={g.cell}
                className={c.rho === null ? 'hm-cell hm-undefined' : 'hm-cell'}
                style={fill ? { fill } : undefined}
              />
              {c.low && fill && (
                <circle cx={x + g.cell / 2} cy={y + g.cell / 2} r={Math.max(2, g.cell * 0.13)} fill={inkOn(fill)} pointerEvents="none" aria-hidden="true" />
              )}
              {c.anti && fill && <AntiMark x={x} y={y} cell={g.cell} fill={inkOn(fill)} />}
            </g>
          );
        })}
      </g>
    );
  },
  (a, b) =>
    a.name === b.name &&
    a.index === b.index &&
    a.g === b.g &&
    a.prefix === b.prefix &&
    a.maxChars === b.maxChars &&
    a.cells.length === b.cells.length &&
    a.cells.every((c, j) => c.rho === b.cells[j].rho && c.low === b.cells[j].low && c.anti === b.cells[j].anti && c.n === b.cells[j].n && c.colName === b.cells[j].colName),
);

/** The cells, labels and cluster marks: redrawn only when the model changes, never on hover. */
const HeatLayer = memo(function HeatLayer({ model, g, prefix }: { model: HeatmapModel; g: Geometry; prefix: string }) {
  const maxChars = Math.floor(g.labelW / 6.6) - 3;
  return (
    <>
      {model.order.map((_, j) => (
        <text key={`c${j}`} x={g.gridX + j * g.cell + g.cell / 2} y={g.gridY - 7} className="hm-collabel" textAnchor="middle" aria-hidden="true">
          {j + 1}
        </text>
      ))}
      {model.blocks.map((b, k) => (
        <rect
          key={`b${k}`}
          x={g.labelW + 3}
          y={g.gridY + b.start * g.cell + 1}
          width={5}
          height={(b.end - b.start) * g.cell - 2}
          fill={clusterColor(k)}
          aria-hidden="true"
        >
          <title>{`cluster ${k + 1}: ${b.label}`}</title>
        </rect>
      ))}
      {model.order.map((name, i) => (
        <HeatRow key={`r${i}`} name={name} index={i} cells={model.cells.slice(i * g.size, (i + 1) * g.size)} g={g} prefix={prefix} maxChars={maxChars} />
      ))}
      {model.blocks.map((b, k) =>
        b.end - b.start > 1 ? (
          <rect
            key={`o${k}`}
            className="hm-block"
            x={g.gridX + b.start * g.cell}
            y={g.gridY + b.start * g.cell}
            width={(b.end - b.start) * g.cell}
            height={(b.end - b.start) * g.cell}
            aria-hidden="true"
          />
        ) : null,
      )}
    </>
  );
});

/**
 * The correlation heatmap: one SVG, cells in dendrogram leaf order, an ARIA grid (focus stays on the
 * SVG, arrow keys move the active cell, aria-activedescendant names it) with a tooltip for ρ and n.
 */
export function Heatmap({ model }: { model: HeatmapModel }) {
  const prefix = useId().replace(/:/g, '');
  const g = useMemo(() => geometry(model.order), [model.order]);
  const [active, setActive] = useState<[number, number]>([0, 0]);
  const [hover, setHover] = useState<[number, number] | null>(null);
  const [focused, setFocused] = useState(false);
  const [r, c] = [Math.min(active[0], g.size - 1), Math.min(active[1], g.size - 1)];
  const shown = hover ?? (focused ? ([r, c] as [number, number]) : null);
  const shownCell = shown ? model.cells[shown[0] * g.size + shown[1]] : null;

  const onKeyDown = (e: KeyboardEvent) => {
    const next = moveInGrid(e.key, r, c, g.size, e.ctrlKey || e.metaKey);
    if (!next) return;
    e.preventDefault();
    setHover(null);
    setActive(next);
  };
  const onMouseMove = (e: MouseEvent) => {
    const t = e.target as SVGElement;
    const row = t.getAttribute('data-row');
    const col = t.getAttribute('data-col');
    if (row === null || col === null) setHover(null);
    else if (!hover || hover[0] !== +row || hover[1] !== +col) setHover([+row, +col]);
  };

  if (g.size === 0) return null;
  return (
    <div className="hm-wrap" style={{ maxWidth: g.width }}>
      <svg
        role="grid"
        aria-label={`Correlation heatmap, ${g.size} categories in cluster order; arrow keys move between cells`}
        aria-rowcount={g.size}
        aria-colcount={g.size}
        aria-activedescendant={cellId(prefix, r, c)}
        tabIndex={0}
        viewBox={`0 0 ${g.width} ${g.height}`}
        className="hm-svg"
        onKeyDown={onKeyDown}
        onFocus={() => setFocused(true)}
        onBlur={() => setFocused(false)}
        onMouseMove={onMouseMove}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const t = e.target as SVGElement;
          const row = t.getAttribute('data-row');
          const col = t.getAttribute('data-col');
          if (row !== null && col !== null) setActive([+row, +col]);
        }}
      >
        <defs>
          <HatchPattern id={`${prefix}-hatch`} />
        </defs>
        <style>{`.hm-undefined { fill: url(#${prefix}-hatch); }`}</style>
        <HeatLayer model={model} g={g} prefix={prefix} />
        {focused && (
          <g pointerEvents="none">
            <rect className="hm-focus" x={g.gridX + c * g.cell + 1.5} y={g.gridY + r * g.cell + 1.5} width={g.cell - 3} height={g.cell - 3} />
            <rect className="hm-focus-inner" x={g.gridX + c * g.cell + 4} y={g.gridY + r * g.cell + 4} width={g.cell - 8} height={g.cell - 8} />
          </g>
        )}
      </svg>
      {shownCell && (
        <div
          className="hm-tooltip"
          role="tooltip"
          style={{
            left: `${((g.gridX + shownCell.col * g.cell + g.cell / 2) / g.width) * 100}%`,
            top: `${((g.gridY + shownCell.row * g.cell) / g.height) * 100}%`,
            // Anchored away from the nearer edge so it never pushes the page sideways.
            transform: `translate(${shownCell.col < g.size * 0.35 ? '-15%' : shownCell.col > g.size * 0.65 ? '-85%' : '-50%'}, calc(-100% - 6px))`,
          }}
        >
          <div className="hm-tooltip-names">
            {shownCell.rowName} × {shownCell.colName}
          </div>
          <div>
            ρ = <strong>{formatRho(shownCell.rho)}</strong> · n = {shownCell.n}
            {shownCell.low ? ` · |ρ| < τ` : ''}
            {shownCell.anti ? ` · anti-correlated, ρ ≤ −τ` : ''}
          </div>
        </div>
      )}
    </div>
  );
}
