/** The diagonal hatch that marks undefined correlations, in the heatmap and its legend alike. */
export function HatchPattern({ id }: { id: string }) {
  return (
    <pattern id={id} patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">
      <rect width="6" height="6" className="hm-hatch-bg" />
      <line x1="0" y1="0" x2="0" y2="6" className="hm-hatch-line" />
    </pattern>
  );
}
