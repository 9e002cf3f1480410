/**
 * The typed form of a mergekit recipe, shared by the parser (recipeParse.ts), the validator
 * (recipeValidate.ts) and the writer (recipeWrite.ts).
 */
import { InputError } from '../errors';
import type { FloatDtype } from '../formats/dtype';
import type { ParameterMap } from './params';
import type { TokenizerSpec } from './vocabulary/tokenizerTypes';

/** Top-level keys SoupLab does not act on but keeps for the round trip. */
export const PASSTHROUGH_KEYS = ['name', 'chat_template'] as const;

export interface ModelRef {
  /** As written in the recipe: a path (relative to the recipe's folder) or a Hugging Face id. */
  path: string;
  line?: number;
}

export interface RecipeModel {
  model: ModelRef;
  parameters: ParameterMap;
  line?: number;
}

/** One source of an output slice: a model's layers [from, to). */
export interface SliceSource {
  model: ModelRef;
  layerRange: [number, number];
  parameters: ParameterMap;
  line?: number;
}

/** An output slice of a `slices:` recipe (a frankenmerge): its layers come from the sources, merged by the method. */
export interface RecipeSlice {
  sources: SliceSource[];
  parameters: ParameterMap;
  line?: number;
}

export interface Recipe {
  /** A registered method's name (src/merge/methods/registry.ts), once validated. */
  method: string;
  baseModel?: ModelRef;
  models: RecipeModel[];
  /** A `slices:` recipe's output slices (then `models` is empty). */
  slices?: RecipeSlice[];
  /** Recipe-wide `parameters:` (lower precedence than a model's own). */
  parameters: ParameterMap;
  /** mergekit's load dtype; SoupLab computes in f32 and uses it only as the default output dtype. */
  dtype?: FloatDtype;
  outDtype?: FloatDtype;
  /** `base`, `union` or a model: the output vocabulary, and each model's embedding rows permuted into it (src/merge/vocabulary). */
  tokenizerSource?: string;
  tokenizerSourceLine?: number;
  /** mergekit's `tokenizer:` block (the other form of tokenizerSource, with per-token settings). */
  tokenizer?: TokenizerSpec;
  /** Keys SoupLab keeps but does not use (name, chat_template), written back as they were. */
  passthrough: Record<string, unknown>;
  /** Where the recipe's lines are, for messages about it after parsing (plan errors). */
  fileName?: string;
  methodLine?: number;
}

export interface ParsedRecipe {
  recipe: Recipe;
  /** Things that are legal but worth saying: unused parameters, a base model that is not averaged. */
  warnings: string[];
}

export interface RecipeProblem {
  line?: number;
  message: string;
}

/** A recipe that cannot be merged; the message names the file and line of the first problem. */
export class RecipeError extends InputError {
  override name = 'RecipeError';
  constructor(
    readonly fileName: string,
    readonly problems: RecipeProblem[],
  ) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super(`${formatWhere(fileName, first.line)}${first.message}${more}`);
  }
}

export function formatWhere(fileName: string, line: number | undefined): string {
  return line !== undefined ? `${fileName} line ${line}: ` : `${fileName}: `;
}

/** "recipe.yaml line 7: " for messages about a recipe element after parsing. */
export function recipeWhere(recipe: Recipe, line: number | undefined): string {
  return formatWhere(recipe.fileName ?? 'recipe', line);
}

