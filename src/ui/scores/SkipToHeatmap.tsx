/** The id of the heatmap's section, the skip links' target. */
export const HEATMAP_SECTION = 'scores-heatmap';

/** Focuses the heatmap (or its section while there is none), past every checkbox of the pickers. */
export function SkipToHeatmap({ label = 'Skip to the heatmap' }: { label?: string }) {
  return (
    <a
      href={`#${HEATMAP_SECTION}`}
      className="skip-link"
      onClick={(e) => {
        e.preventDefault();
        const section = document.getElementById(HEATMAP_SECTION);
        const grid = section?.querySelector<SVGElement>('[role=grid]');
        (grid ?? section)?.focus();
      }}
    >
      {label}
    </a>
  );
}
