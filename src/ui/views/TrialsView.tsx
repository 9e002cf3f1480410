/** The Trials view: built on the engine modules; no merge or analysis logic here. */
export function TrialsView() {
  return <p className="placeholder">Coming next.</p>;
}
