/** The Scores view: built on the engine modules; no merge or analysis logic here. */
export function ScoresView() {
  return <p className="placeholder">Coming next.</p>;
}
