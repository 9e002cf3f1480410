/** The Merge view: built on the engine modules; no merge or analysis logic here. */
export function MergeView() {
  return <p className="placeholder">Coming next.</p>;
}
