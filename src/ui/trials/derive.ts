import { rankTrials, shapleyFromTrials, type ShapleyResult, type TrialRanking, type TrialTable } from '../../analysis';
import { matchExperts } from '../../analysis/names';
import { errorMessage, type Derived } from '../scores/derive';
import { usableObjective } from '../state/trialsStore';

export interface TrialsDerived {
  ranking: Derived<TrialRanking>;
  shapley: Derived<ShapleyResult>;
  /** The Scores view's experts as named in the trials, or why they cannot be a baseline here. */
  experts: { names: string[] } | { missing: string[] } | null;
}

let last: { table: TrialTable; key: string; out: TrialsDerived } | undefined;

/** Ranking, baselines and Shapley values of the trials under an objective; memoised on its inputs. */
export function deriveTrials(table: TrialTable, objectiveColumns: string[] | null, expertSet: string[] | null): TrialsDerived {
  const key = JSON.stringify([objectiveColumns, expertSet]);
  if (last && last.table === table && last.key === key) return last.out;
  const columns = usableObjective(table, objectiveColumns);
  let experts: TrialsDerived['experts'] = null;
  if (expertSet && expertSet.length > 0) {
    // As the Ingredients view matches them to checkpoints: the trials name the checkpoints.
    const names = matchExperts(expertSet, table.models);
    const missing = expertSet.filter((_, i) => names[i] === undefined);
    experts = missing.length > 0 ? { missing } : { names: names as string[] };
  }
  let ranking: Derived<TrialRanking>;
  try {
    ranking = {
      value: rankTrials(table, { objective: { columns }, experts: experts && 'names' in experts ? experts.names : undefined }),
      error: null,
    };
  } catch (e) {
    ranking = { value: null, error: errorMessage(e) };
  }
  let shapley: Derived<ShapleyResult>;
  try {
    shapley = { value: shapleyFromTrials(table, { objective: { columns } }), error: null };
  } catch (e) {
    shapley = { value: null, error: errorMessage(e) };
  }
  const out = { ranking, shapley, experts };
  last = { table, key, out };
  return out;
}
