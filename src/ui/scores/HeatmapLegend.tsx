import { useId } from 'react';
import { ruleFormula, type LowCorrelationRule } from '../../analysis';
import { AntiMark } from './Heatmap';
import { correlationColor } from './colorScale';
import { HatchPattern } from './HatchPattern';

const STOPS = 21;

interface LegendProps {
  tau: number;
  rule: LowCorrelationRule;
  lowCount: number;
  antiCount: number;
  undefinedCount: number;
}

/** The colour scale from −1 to 1 with the band of L's rule drawn on it (ρ < τ, or |ρ| < τ), and the marks' meaning. */
/** `lowCount` and `antiCount` count category pairs (each is marked twice, above and below the diagonal); `undefinedCount` counts cells. */
export function HeatmapLegend({ tau, rule, lowCount, antiCount, undefinedCount }: LegendProps) {
  const id = useId().replace(/:/g, '');
  const w = 220;
  const x = (v: number) => 10 + ((v + 1) / 2) * w;
  const bandFrom = rule === 'signed' ? -1 : -tau;
  return (
    <div className="hm-legend">
      <svg width={w + 20} height={46} role="img" aria-label={`Colour scale: blue ρ = −1, white 0, red +1; band ${ruleFormula(rule).replace('τ', tau.toFixed(2))}, the pairs that put categories into L`}>
        <defs>
          <linearGradient id={`${id}-g`}>
            {Array.from({ length: STOPS }, (_, i) => {
              const v = -1 + (2 * i) / (STOPS - 1);
              return <stop key={i} offset={`${(i / (STOPS - 1)) * 100}%`} stopColor={correlationColor(v)} />;
            })}
          </linearGradient>
        </defs>
        <rect x={10} y={6} width={w} height={12} fill={`url(#${id}-g)`} className="hm-legend-bar" />
        <rect x={x(bandFrom)} y={3} width={Math.max(1, x(tau) - x(bandFrom))} height={18} className="hm-legend-band" />
        {[-1, -0.5, 0, 0.5, 1].map((v) => (
          <g key={v}>
            <line x1={x(v)} x2={x(v)} y1={18} y2={23} className="hm-legend-tick" />
            <text x={x(v)} y={35} textAnchor="middle" className="hm-legend-text">
              {v === 0 ? '0' : v < 0 ? `−${-v}` : String(v)}
            </text>
          </g>
        ))}
      </svg>
      <ul className="hm-legend-keys">
        <li>
          <svg width="16" height="16" aria-hidden="true">
            <rect width="16" height="16" fill={correlationColor(0.1)} />
            <circle cx="8" cy="8" r="2.5" fill="#000" />
          </svg>{' '}
          |ρ| &lt; τ: {lowCount} pair{lowCount === 1 ? '' : 's'}
        </li>
        <li data-rule={rule}>
          <svg width="16" height="16" aria-hidden="true">
            <rect width="16" height="16" fill={correlationColor(-0.7)} />
            <AntiMark x={0} y={0} cell={16} fill="#000" />
          </svg>{' '}
          anti-correlated, ρ ≤ −τ: {antiCount} pair{antiCount === 1 ? '' : 's'} ({rule === 'signed' ? 'in L under ρ < τ' : 'left out of L under |ρ| < τ'})
        </li>
        <li>
          <svg width="16" height="16" aria-hidden="true">
            <defs>
              <HatchPattern id={`${id}-h`} />
            </defs>
            <rect width="16" height="16" fill={`url(#${id}-h)`} />
          </svg>{' '}
          undefined: {undefinedCount} cells
        </li>
        <li>
          <svg width="16" height="16" aria-hidden="true">
            <rect x="1" y="1" width="14" height="14" className="hm-block" />
          </svg>{' '}
          cluster (mean ρ ≥ τ)
        </li>
      </ul>
    </div>
  );
}
