import { useRef } from 'react';
import { useSoupStore } from '../state/soupStore';
import { recipeYamlOf, type SoupSpec } from './recipeIO';

/** Recipes in and out as mergekit YAML. */
export function RecipeBar({ spec }: { spec: SoupSpec }) {
  const importText = useSoupStore((s) => s.importRecipeText);
  const input = useRef<HTMLInputElement>(null);
  const yaml = spec.models.length > 0 ? recipeYamlOf(spec) : '';
  const download = () => {
    const url = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'recipe.yaml';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <section className="card recipe" aria-labelledby="recipe-h">
      <h3 id="recipe-h">Recipe (mergekit YAML)</h3>
      <div className="row">
        <button type="button" onClick={() => input.current?.click()}>Import recipe…</button>
        <button type="button" onClick={download} disabled={yaml === ''}>Export recipe</button>
      </div>
      <input
        ref={input}
        type="file"
        accept=".yaml,.yml,text/yaml"
        hidden
        onChange={(e) => {
          const f = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (f) void f.text().then((t) => importText(t, f.name));
        }}
      />
      {yaml !== '' && (
        <details>
          <summary>Show recipe.yaml</summary>
          <pre className="yaml">{yaml}</pre>
        </details>
      )}
    </section>
  );
}
