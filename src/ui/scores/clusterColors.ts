/** Okabe–Ito: distinguishable with colour-vision deficiencies; cycled when there are more clusters. */
const PALETTE = ['#E69F00', '#56B4E9', '#009E73', '#CC79A7', '#0072B2', '#D55E00', '#F0E442', '#999999'];

export function clusterColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}
