/**
 * The studio's side of tokenizers that differ: the pre-flight's vocabulary lines and the union / base
 * choice over ingredients opened as the page opens them (File objects), and the choice in the recipe
 * both ways. The rows themselves are checked in test/merge/vocabulary.test.ts.
 */
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInput, summarise } from '../../src/ui/ingredients/openIngredient';
import { importRecipe, recipeYamlOf } from '../../src/ui/ingredients/recipeIO';
import { soupSpecOf, soupStatus, type SoupInputs } from '../../src/ui/ingredients/soup';
import type { Ingredient } from '../../src/ui/ingredients/types';
import { studioVocabulary } from '../../src/ui/ingredients/vocabulary';
import { writeVocabularyModels } from '../merge/vocabularyModels';

let dir: string;
let ingredients: Ingredient[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-ui-vocab-'));
  writeVocabularyModels(dir);
  ingredients = await Promise.all(
    ['base', 'chat', 'tool'].map(async (name, i) => {
      const files = readdirSync(join(dir, name)).map((f): [string, File] => [f, new File([readFileSync(join(dir, name, f))], f)]);
      const input = { name, kind: 'folder' as const, files };
      const checkpoint = await openInput(input);
      return { id: String(i), name, input, status: 'ready' as const, checkpoint, summary: summarise(checkpoint) };
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inputs = (vocabulary: SoupInputs['vocabulary']): SoupInputs => ({ ingredients, weights: {}, normalise: true, outDtype: 'auto', vocabulary });

describe('the pre-flight with vocabularies that differ', () => {
  it('says how each model differs; without a choice the embeddings do not fit', async () => {
    const s = inputs('rows');
    const v = await studioVocabulary(ingredients, soupSpecOf(s));
    expect(v?.differ).toBe(true);
    expect(v?.lines.slice(0, 2)).toEqual([
      'chat: +2 tokens: <|im_start|>, <|im_end|>; added at other ids than elsewhere: <|im_start|> (8 here, 10 in tool)',
      'tool: +3 tokens: <tool_call>, </tool_call>, <|im_start|>; added at other ids than elsewhere: <|im_start|> (10 here, 8 in chat)',
    ]);
    const status = soupStatus({ ...s, vocabularies: v });
    expect(status.report?.errors.map((e) => e.code)).toContain('vocab-size');
    expect(status.plan).toBeNull();
  });

  it('with union the rows are aligned: the pre-flight passes and the plan writes 12 rows', async () => {
    const s = inputs('union');
    expect(soupStatus({ ...s, vocabularies: undefined }).blockers).toContain('Reading the models’ tokenizers…');
    const v = await studioVocabulary(ingredients, soupSpecOf(s));
    const status = soupStatus({ ...s, vocabularies: v });
    expect(status.report?.errors).toEqual([]);
    expect(status.blockers).toEqual([]);
    expect(status.plan?.steps.find((st) => st.name === 'lm_head.weight')?.shape).toEqual([12, 4]);
  });

  it('with base: 8 rows', async () => {
    const s = inputs('base');
    const status = soupStatus({ ...s, vocabularies: await studioVocabulary(ingredients, soupSpecOf(s)) });
    expect(status.report?.errors).toEqual([]);
    expect(status.plan?.steps.find((st) => st.name === 'model.embed_tokens.weight')?.shape).toEqual([8, 4]);
  });
});

describe('the choice in the recipe, both ways', () => {
  it('is written as tokenizer_source and read back', () => {
    const yaml = recipeYamlOf(soupSpecOf(inputs('union')));
    expect(yaml).toContain('tokenizer_source: union');
    expect(importRecipe(yaml, 'r.yaml', ingredients.map((g) => g.input)).tokenizerSource).toBe('union');
    expect(recipeYamlOf(soupSpecOf(inputs('rows')))).not.toContain('tokenizer');
  });

  it('says when an imported recipe’s tokenizer settings are not the studio’s', () => {
    const text = 'merge_method: linear\nmodels:\n  - model: ./base\n  - model: ./chat\ntokenizer:\n  source: ./chat\n';
    const r = importRecipe(text, 'r.yaml', ingredients.map((g) => g.input));
    expect(r.tokenizerSource).toBeUndefined();
    expect(r.warnings).toContain("the tokenizer: block is not taken into the studio, which offers union or the base's vocabulary; souplab merge runs the recipe as it is");
  });
});
