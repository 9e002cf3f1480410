/**
 * The heatmap's diverging colour scale: ColorBrewer RdBu (colour-blind safe), blue for negative ρ,
 * near-white for 0, red for positive, interpolated linearly in sRGB between its 7 anchors.
 */
export const RDBU_ANCHORS: readonly (readonly [number, string])[] = [
  [-1, '#2166ac'],
  [-2 / 3, '#67a9cf'],
  [-1 / 3, '#d1e5f0'],
  [0, '#f7f7f7'],
  [1 / 3, '#fddbc7'],
  [2 / 3, '#ef8a62'],
  [1, '#b2182b'],
];

export type Rgb = [number, number, number];

export function hexToRgb(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

export function rgbToHex([r, g, b]: Rgb): string {
  return '#' + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
}

/** The colour of a correlation; values outside [−1, 1] are clamped, NaN is an error (undefined cells are drawn apart). */
export function correlationColor(rho: number): string {
  if (Number.isNaN(rho)) throw new Error('correlationColor: NaN has no colour; draw undefined cells separately');
  const v = Math.max(-1, Math.min(1, rho));
  for (let i = 1; i < RDBU_ANCHORS.length; i++) {
    const [x1, c1] = RDBU_ANCHORS[i];
    if (v <= x1 + 1e-12) {
      const [x0, c0] = RDBU_ANCHORS[i - 1];
      const t = (v - x0) / (x1 - x0);
      const a = hexToRgb(c0);
      const b = hexToRgb(c1);
      return rgbToHex([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]);
    }
  }
  return RDBU_ANCHORS[RDBU_ANCHORS.length - 1][1];
}

/** WCAG relative luminance of an sRGB colour. */
export function relativeLuminance(hex: string): number {
  const lin = hexToRgb(hex).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

/** Black or white, whichever contrasts more with the background (for marks and numbers drawn on a cell). */
export function inkOn(hex: string): '#000000' | '#ffffff' {
  const l = relativeLuminance(hex);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}
