/**
 * Ternary (barycentric) coordinates for three weights summing to 1, on an equilateral triangle with
 * corner 0 at the bottom left, corner 1 at the bottom right and corner 2 at the top.
 */
export function ternaryPoint(w: readonly number[], side: number): { x: number; y: number } {
  const total = w[0] + w[1] + w[2];
  const [a, b, c] = [w[0] / total, w[1] / total, w[2] / total];
  const h = (side * Math.sqrt(3)) / 2;
  // Corners: (0, h), (side, h), (side / 2, 0) in SVG coordinates (y grows downwards).
  return { x: a * 0 + b * side + c * (side / 2), y: a * h + b * h + c * 0 };
}

/** Corners of the triangle in the same coordinates. */
export function ternaryCorners(side: number): [number, number][] {
  const h = (side * Math.sqrt(3)) / 2;
  return [
    [0, h],
    [side, h],
    [side / 2, 0],
  ];
}
