import { describe, expect, it } from 'vitest';
import { parseScoreTable } from '../../src/analysis';
import { groupModels, NO_BASE } from '../../src/ui/scores/candidates';

// Issue 23: the Open LLM Leaderboard writes "Removed" where a base model is not known; such placeholders
// are missing values, never a base model that models share.
const CSV = [
  'Model,Base Model,Architecture,IFEval,BBH,MATH',
  'a-1,Removed,LlamaForCausalLM,60,40,10',
  'a-2,removed,LlamaForCausalLM,61,41,11',
  'b-1,unknown,-,50,45,12',
  'c-1,-,LlamaForCausalLM,55,44,13',
  'd-1,,LlamaForCausalLM,58,42,9',
  'e-1,meta-llama/Llama-3.1-8B,LlamaForCausalLM,59,43,14',
].join('\n');

describe('facts a table does not know', () => {
  const table = parseScoreTable({ name: 'contents.csv', text: CSV });

  it('placeholders (Removed, unknown, "-", empty) in the base model and architecture columns are missing', () => {
    expect(table.lineage.baseModel?.values).toEqual(['', '', '', '', '', 'meta-llama/Llama-3.1-8B']);
    expect(table.lineage.architecture?.values).toEqual(['LlamaForCausalLM', 'LlamaForCausalLM', '', 'LlamaForCausalLM', 'LlamaForCausalLM', 'LlamaForCausalLM']);
  });

  it('the candidate picker groups them as "no base model given", not under a base called "Removed"', () => {
    const byModel = new Map(table.models.map((m, i) => [m, table.lineage.baseModel!.values[i]]));
    const groups = groupModels(table.models, byModel);
    expect(groups.map((g) => [g.base, g.models.length])).toEqual([
      [NO_BASE, 5],
      ['meta-llama/Llama-3.1-8B', 1],
    ]);
  });
});
