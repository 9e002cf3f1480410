/** The Ingredients view: built on the engine modules; no merge or analysis logic here. */
export function IngredientsView() {
  return <p className="placeholder">Coming next.</p>;
}
