/** Which models a search soups (the plain search and the search with an external evaluator read it alike). */
import { matchExperts } from '../analysis/names';
import { selectionNote } from '../analysis/report';
import { InputError } from '../errors';
import { runAnalysis } from './analysisOptions';

/** The search's experts: every model, or those the analysis of the score tables (positionals) selects; and the grid's step. */
export function searchExperts(positionals: string[], flags: Map<string, string | true>, names: string[], say: (line: string) => void): { experts: number[]; step: number } {
  const stepFlag = flags.get('step');
  if (positionals.length === 0) return { experts: names.map((_, i) => i), step: Number(typeof stepFlag === 'string' ? stepFlag : '0.1') };
  const { result } = runAnalysis(positionals, flags, flags.has('candidates') ? {} : { candidates: names });
  if (result.expertSet.length === 0) throw new InputError(`the analysis selected no experts (${result.warnings.join('; ') || 'empty'})`);
  // As the studio matches a score table's names to checkpoints ("xLAM-2-70b-fc-r (FC)" → xLAM-2-70b-fc-r).
  const matched = matchExperts(result.expertSet, names);
  const experts = result.expertSet.map((e, i) => {
    const hit = matched[i];
    if (hit === undefined) throw new InputError(`no checkpoint for expert "${e}": add "${e}=/path/to/checkpoint" to --models`);
    return names.indexOf(hit);
  });
  say(`experts (${selectionNote(result)}): ${experts.map((e) => names[e]).join(', ')}`);
  return { experts, step: result.grid.step };
}
