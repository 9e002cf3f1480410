import { Document } from 'yaml';
import { InputError } from '../errors';
import type { WeightGrid } from './grid';

/** An ingredient of a linear soup: a model name (as in the score table) and where its checkpoint is. */
export interface Ingredient {
  name: string;
  /** Path or hub id mergekit (or SoupLab) loads. */
  checkpoint: string;
}

export interface RecipeOptions {
  /** mergekit `dtype` (load/compute dtype): float32, float16, bfloat16; omitted when absent. */
  dtype?: string;
  /** mergekit `out_dtype`; omitted when absent. */
  outDtype?: string;
  /** `parameters.normalize` (default true: weights are divided by their sum). */
  normalize?: boolean;
  /** A comment put at the top of the YAML. */
  comment?: string;
  /** mergekit `tokenizer_source` (union, base or a model's path) for models whose vocabularies differ; omitted when absent. */
  tokenizerSource?: string;
  /** mergekit's `tokenizer:` block, as plain YAML data (the other form of tokenizerSource); omitted when absent. */
  tokenizer?: Record<string, unknown>;
}

const DTYPES = new Set(['float32', 'float16', 'bfloat16', 'fp32', 'fp16', 'bf16']);

/** The plain object of a mergekit `linear` recipe (MergeConfiguration with `models`). */
export function linearRecipeObject(ingredients: Ingredient[], weights: number[], options: RecipeOptions = {}): Record<string, unknown> {
  if (ingredients.length === 0) throw new InputError('a recipe needs at least one model');
  if (weights.length !== ingredients.length)
    throw new InputError(`${weights.length} weights for ${ingredients.length} models`);
  for (const d of [options.dtype, options.outDtype])
    if (d !== undefined && !DTYPES.has(d)) throw new InputError(`unknown dtype "${d}"; use float32, float16 or bfloat16`);
  const recipe: Record<string, unknown> = {
    merge_method: 'linear',
    models: ingredients.map((ing, i) => ({ model: ing.checkpoint, parameters: { weight: weights[i] } })),
    parameters: { normalize: options.normalize ?? true },
  };
  if (options.dtype !== undefined) recipe.dtype = options.dtype;
  if (options.outDtype !== undefined) recipe.out_dtype = options.outDtype;
  if (options.tokenizerSource !== undefined) recipe.tokenizer_source = options.tokenizerSource;
  if (options.tokenizer !== undefined) recipe.tokenizer = options.tokenizer;
  return recipe;
}

/** The YAML text of a mergekit `linear` recipe. */
export function linearRecipeYaml(ingredients: Ingredient[], weights: number[], options: RecipeOptions = {}): string {
  const doc = new Document(linearRecipeObject(ingredients, weights, options));
  if (options.comment) doc.commentBefore = options.comment.split('\n').map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}

/** One file of a batch export. */
export interface RecipeFile {
  /** File name inside the export folder, e.g. "soup-007.yaml". */
  file: string;
  /** Weights aligned with the ingredients. */
  weights: number[];
  uniform: boolean;
  yaml: string;
}

/** A folder's worth of recipes: one per grid point, plus `index.csv` listing them with their weights. */
export interface RecipeBatch {
  files: RecipeFile[];
  /** CSV: recipe, kind, one `weight: <model>` column per ingredient; add score columns to make it a trials table. */
  indexCsv: string;
}

/** Every grid point as a recipe; ingredients aligned with the grid's weight vectors (the expert set). */
export function gridRecipes(ingredients: Ingredient[], grid: WeightGrid, options: Omit<RecipeOptions, 'comment'> = {}): RecipeBatch {
  const width = Math.max(3, String(grid.points.length).length);
  const files = grid.points.map((p, i): RecipeFile => {
    const file = `soup-${String(i + 1).padStart(width, '0')}.yaml`;
    const mix = ingredients.map((ing, j) => `${ing.name} ${formatWeight(p.weights[j])}`).join(', ');
    const comment = `SoupLab grid point ${i + 1} of ${grid.points.length}${p.uniform ? ' (uniform soup)' : ''}: ${mix}`;
    return { file, weights: p.weights, uniform: p.uniform, yaml: linearRecipeYaml(ingredients, p.weights, { ...options, comment }) };
  });
  const header = ['recipe', 'kind', ...ingredients.map((ing) => `weight: ${ing.name}`)];
  const lines = [header.map(csvField).join(',')];
  for (const f of files) lines.push([f.file, f.uniform ? 'uniform' : 'grid', ...f.weights.map(formatWeight)].map(csvField).join(','));
  return { files, indexCsv: lines.join('\n') + '\n' };
}

/** Shortest decimal that reads back as the same number (0.3, 0.3333333333333333). */
export function formatWeight(w: number): string {
  return String(w);
}

/** A CSV field, quoted when it holds a comma, quote or newline. */
export function csvField(s: string): string {
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}
