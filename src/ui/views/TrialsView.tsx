import { useEffect, useState } from 'react';
import type { TrialTable } from '../../analysis';
import { analysisChoicesOf, deriveAnalysis, deriveTable } from '../scores/derive';
import { DropArea } from '../scores/DropArea';
import { readTextFiles } from '../scores/readFiles';
import { useDefaultCandidates } from '../scores/useDefaultCandidates';
import { useScoresStore } from '../state/scoresStore';
import { useTrialsStore } from '../state/trialsStore';
import { Baselines } from '../trials/Baselines';
import { deriveTrials } from '../trials/derive';
import { ObjectiveChart } from '../trials/ObjectiveChart';
import { RankedTable } from '../trials/RankedTable';
import { ShapleyChart } from '../trials/ShapleyChart';
import './trials.css';

/** The Scores view's current expert set, for the "uniform soup of the experts" baseline. */
function useExpertSet(): string[] | null {
  const s = useScoresStore();
  const init = useScoresStore((st) => st.init);
  useEffect(() => {
    void init();
  }, [init]);
  const table = deriveTable(s.files, s.modelColumn)?.value ?? null;
  const defaults = useDefaultCandidates(table);
  if (!table) return null;
  const a = deriveAnalysis(table, { ...analysisChoicesOf(s), candidates: s.candidates ?? defaults?.models ?? null });
  return a.value?.expertSet ?? null;
}

/** The Trials view: evaluated soups in; ranking, response surface, baselines and Shapley values out. */
export function TrialsView() {
  const t = useTrialsStore();
  const init = useTrialsStore((st) => st.init);
  const expertSet = useExpertSet();
  const [readError, setReadError] = useState<string | null>(null);
  useEffect(() => {
    void init();
  }, [init]);

  const onFiles = async (files: File[]) => {
    setReadError(null);
    if (files.length > 1) {
      setReadError(`one trials table at a time, not ${files.length} files`);
      return;
    }
    try {
      const [file] = await readTextFiles(files);
      await t.loadFile(file);
    } catch (e) {
      setReadError((e as Error).message);
    }
  };
  const error = readError ?? t.error;
  const derived = t.table ? deriveTrials(t.table, t.objectiveColumns, expertSet) : null;

  return (
    <div className="trials-view">
      <div className="trials-top">
        <DropArea
          label="Trials"
          hint={
            <>
              Drop evaluated trials here: a CSV, TSV or JSON table with one row per soup, its weights in columns named <code>weight: &lt;model&gt;</code> and
              its scores in the other columns.
            </>
          }
          accept=".csv,.tsv,.tab,.txt,.json,text/csv,application/json"
          multiple={false}
          buttonText="Choose a trials file…"
          onFiles={(f) => void onFiles(f)}
        >
          {t.table && (
            <button type="button" onClick={() => void t.clear()}>
              Remove the trials
            </button>
          )}
        </DropArea>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!t.table ? (
        <EmptyState />
      ) : (
        derived && (
          <>
            <TrialsSummary table={t.table} />
            <ObjectivePicker
              table={t.table}
              selected={derived.ranking.value?.objectiveColumns ?? []}
              isDefault={t.objectiveColumns === null}
              rule={t.objectiveRule}
              onChange={t.setObjectiveColumns}
            />
            {derived.ranking.error && (
              <p className="error" role="alert">
                {derived.ranking.error}
              </p>
            )}
            {derived.ranking.value && (
              <div className="trials-grid">
                <ObjectiveChart ranking={derived.ranking.value} models={t.table.models} />
                <div className="trials-side">
                  <Baselines ranking={derived.ranking.value} models={t.table.models} experts={derived.experts} />
                  {derived.shapley.value ? (
                    <ShapleyChart shapley={derived.shapley.value} />
                  ) : (
                    <p className="error">{derived.shapley.error}</p>
                  )}
                </div>
                <div className="trials-wide">
                  <RankedTable ranking={derived.ranking.value} models={t.table.models} scores={t.table.scores} />
                </div>
              </div>
            )}
          </>
        )
      )}
    </div>
  );
}

function EmptyState() {
  return (
    <div className="card trials-empty">
      <h3>No trials yet</h3>
      <ol>
        <li>
          In <strong>Scores</strong>, pick the experts and download the grid (<em>Download grid … CSV</em>): one row per soup with its weights.
        </li>
        <li>Merge each grid point (Ingredients and Merge, or mergekit with the same weights) and evaluate it on your benchmark.</li>
        <li>
          Add a column per category score to the grid file (and rows for single models or other soups you evaluated), then drop it here.
        </li>
      </ol>
      <p className="muted">
        Example header: <code>recipe,weight: model-a,weight: model-b,weight: model-c,Live AST,Multi Turn,Irrelevance</code>. Shapley values need the uniform
        soup of every subset of the ingredients, singles included.
      </p>
    </div>
  );
}

function TrialsSummary({ table }: { table: TrialTable }) {
  const warnings = table.problems.filter((p) => p.severity === 'warning');
  return (
    <div className="card trials-summary">
      <p>
        <strong>{table.source}</strong>: {table.trials.length} trials over {table.models.length} ingredients ({table.models.join(', ')}), {table.scores.categories.length}{' '}
        score categories.
      </p>
      {warnings.length > 0 && (
        <ul>
          {warnings.map((p, i) => (
            <li key={i} className="warning">
              {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ObjectivePicker({
  table,
  selected,
  isDefault,
  rule,
  onChange,
}: {
  table: TrialTable;
  selected: string[];
  isDefault: boolean;
  /** How the studio put the scores on one scale; null for an imported file. */
  rule: string | null;
  onChange(c: string[] | null): void;
}) {
  const columns = table.scores.columns;
  const toggle = (name: string, on: boolean) => {
    const next = columns.map((c) => c.name).filter((n) => (n === name ? on : selected.includes(n)));
    onChange(next.length === 0 ? null : next);
  };
  return (
    <fieldset className="card objective-picker">
      <legend>Objective: the sum of</legend>
      {columns.map((c) => (
        <label key={c.name} title={c.kind === 'category' ? 'a category' : `${c.kind}: ${c.reason}`}>
          <input type="checkbox" checked={selected.includes(c.name)} onChange={(e) => toggle(c.name, e.target.checked)} /> {c.name}
          {c.kind !== 'category' && <span className="muted"> ({c.kind})</span>}
        </label>
      ))}
      <button type="button" onClick={() => onChange(null)} disabled={isDefault}>
        Every category
      </button>
      {rule && <p className="muted small objective-rule">Scale: {rule}.</p>}
    </fieldset>
  );
}
