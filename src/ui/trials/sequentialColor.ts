import { hexToRgb, rgbToHex } from '../scores/colorScale';

/** Viridis at 5 anchors: perceptually ordered, colour-blind safe, readable on light and dark grounds. */
const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];

/** The colour of t in [0, 1] (clamped) on viridis. */
export function sequentialColor(t: number): string {
  const v = Math.max(0, Math.min(1, Number.isNaN(t) ? 0 : t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(v));
  const f = v - i;
  const a = hexToRgb(VIRIDIS[i]);
  const b = hexToRgb(VIRIDIS[i + 1]);
  return rgbToHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}
