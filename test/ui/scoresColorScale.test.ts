import { describe, expect, it } from 'vitest';
import { correlationColor, hexToRgb, inkOn, relativeLuminance, RDBU_ANCHORS } from '../../src/ui/scores/colorScale';
import { sequentialColor } from '../../src/ui/trials/sequentialColor';

describe('heatmap colour scale', () => {
  it('hits every RdBu anchor exactly', () => {
    for (const [v, hex] of RDBU_ANCHORS) expect(correlationColor(v)).toBe(hex);
  });

  it('is blue below 0, red above, and symmetric in lightness around 0', () => {
    const neg = hexToRgb(correlationColor(-0.5));
    const pos = hexToRgb(correlationColor(0.5));
    expect(neg[2]).toBeGreaterThan(neg[0]);
    expect(pos[0]).toBeGreaterThan(pos[2]);
    for (const v of [0.1, 0.3, 0.6, 0.9]) {
      // The two arms darken together: |ρ| reads the same whatever the sign.
      expect(Math.abs(relativeLuminance(correlationColor(v)) - relativeLuminance(correlationColor(-v)))).toBeLessThan(0.12);
    }
  });

  it('gets monotonically darker away from 0 on each arm', () => {
    let prev = relativeLuminance(correlationColor(0));
    for (let v = 0.05; v <= 1.0001; v += 0.05) {
      const l = relativeLuminance(correlationColor(v));
      expect(l).toBeLessThan(prev + 1e-9);
      prev = l;
    }
    prev = relativeLuminance(correlationColor(0));
    for (let v = -0.05; v >= -1.0001; v -= 0.05) {
      const l = relativeLuminance(correlationColor(v));
      expect(l).toBeLessThan(prev + 1e-9);
      prev = l;
    }
  });

  it('clamps out-of-range values and refuses NaN', () => {
    expect(correlationColor(1.5)).toBe(correlationColor(1));
    expect(correlationColor(-7)).toBe(correlationColor(-1));
    expect(() => correlationColor(NaN)).toThrow(/undefined cells/);
  });

  it('puts black marks on light cells and white marks on dark ones', () => {
    expect(inkOn(correlationColor(0))).toBe('#000000');
    expect(inkOn(correlationColor(1))).toBe('#ffffff');
    expect(inkOn(correlationColor(-1))).toBe('#ffffff');
  });

  it('sequential (viridis) scale runs dark to light and clamps', () => {
    expect(sequentialColor(0)).toBe('#440154');
    expect(sequentialColor(1)).toBe('#fde725');
    expect(sequentialColor(2)).toBe('#fde725');
    expect(sequentialColor(NaN)).toBe('#440154');
    let prev = -1;
    for (let t = 0; t <= 1.0001; t += 0.1) {
      const l = relativeLuminance(sequentialColor(Math.min(1, t)));
      expect(l).toBeGreaterThan(prev);
      prev = l;
    }
  });
});
