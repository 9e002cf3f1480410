import type { CategoryCluster } from '../../analysis';
import { clusterColor } from './clusterColors';
import { formatRho } from './heatmapModel';

/** The clusters cut at τ, coloured like the brackets beside the heatmap rows. */
export function ClusterList({ clusters, tau }: { clusters: CategoryCluster[]; tau: number }) {
  return (
    <section className="card" aria-labelledby="clusters-h">
      <h3 id="clusters-h">
        Clusters <span className="muted">({clusters.length}; joined while mean ρ ≥ τ = {tau.toFixed(2)})</span>
      </h3>
      <ol className="cluster-list">
        {clusters.map((cl, i) => (
          <li key={cl.label}>
            <span className="swatch" style={{ background: clusterColor(i) }} aria-hidden="true" />
            <span className="cluster-cats">{cl.categories.join(' · ')}</span>{' '}
            <span className="muted num">{cl.meanCorrelation === null ? 'single category' : `mean ρ ${formatRho(cl.meanCorrelation)}`}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
