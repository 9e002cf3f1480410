/**
 * How a recipe names an ingredient: a path relative to the recipe's folder ("./demo-xLAM-2-70b-fc-r"
 * for a checkpoint folder, "./expert-alpha.safetensors" for one file), so that an exported recipe put
 * beside the checkpoints runs unchanged in mergekit and `souplab merge` — a bare name would be taken for
 * a Hugging Face id. Reading a recipe back, a path finds its ingredient by that form, by the name
 * itself (recipes of older studios), or by its last component.
 */
import type { IngredientInput } from './types';

type Named = Pick<IngredientInput, 'name' | 'kind' | 'files' | 'base'>;

const SAFETENSORS = /\.safetensors$/i;

/** The ingredient's path in a recipe. */
export function modelPathOf(input: Named): string {
  // A LoRA adapter on its base, as mergekit writes it: base+adapter.
  if (input.base) return `${modelPathOf(input.base)}+./${input.name}`;
  if (input.kind === 'folder') return `./${input.name}`;
  const file = input.files[0]?.[0];
  // A file keeps its own name, unless the studio renamed the ingredient ("x (2)") to tell two apart.
  return `./${file !== undefined && file.replace(SAFETENSORS, '') === input.name ? file : `${input.name}.safetensors`}`;
}

/** The last component of a path, without ".safetensors" and a trailing slash. */
function stem(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  return (parts[parts.length - 1] ?? path).replace(SAFETENSORS, '');
}

/** The ingredient a recipe path names, or undefined. */
export function ingredientOfPath<T extends Named>(path: string, inputs: readonly T[]): T | undefined {
  return inputs.find((i) => modelPathOf(i) === path) ?? inputs.find((i) => i.name === path) ?? inputs.find((i) => i.name === stem(path));
}
