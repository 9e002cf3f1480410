import { useEffect, useMemo, useState } from 'react';
import { LOW_CORRELATION_RULES, ruleFormula, type CorrelationMethod, type ExpertMode, type LowCorrelationRule } from '../../analysis';
import { ChecklistPicker } from '../scores/ChecklistPicker';
import { ClusterList } from '../scores/ClusterList';
import { CorrelationTable } from '../scores/CorrelationTable';
import { DEMO_ATTRIBUTION, DEMO_CANDIDATES, DEMO_FOURTH_CANDIDATE } from '../scores/demo';
import { analysisChoicesOf, deriveAnalysis, deriveBaseModels, deriveChoices, deriveHeatmap, deriveTable } from '../scores/derive';
import { DropArea } from '../scores/DropArea';
import { ExpertsPanel } from '../scores/ExpertsPanel';
import { Heatmap } from '../scores/Heatmap';
import { HeatmapLegend } from '../scores/HeatmapLegend';
import { readTextFiles } from '../scores/readFiles';
import { sameList } from '../scores/candidates';
import { candidateSections, categorySections } from '../scores/pickerSections';
import { HEATMAP_SECTION, SkipToHeatmap } from '../scores/SkipToHeatmap';
import { TableProblems } from '../scores/TableProblems';
import { useDefaultCandidates } from '../scores/useDefaultCandidates';
import { useScoresStore } from '../state/scoresStore';
import { DocsLink } from '../components/DocsLink';
import './scores.css';

/** The Scores view: a score table in; correlations, clusters and experts out. Analysis lives in src/analysis. */
export function ScoresView() {
  const s = useScoresStore();
  const init = useScoresStore((st) => st.init);
  const [readError, setReadError] = useState<string | null>(null);
  useEffect(() => {
    void init();
  }, [init]);

  const tableResult = deriveTable(s.files, s.modelColumn);
  const table = tableResult?.value ?? null;
  const defaults = useDefaultCandidates(table);
  const choices = { ...analysisChoicesOf(s), candidates: s.candidates ?? defaults?.models ?? null };
  const chosen = table ? deriveChoices(table, s.categories, choices.candidates) : null;
  // No candidates yet ("None", then ticking a few): the heatmap needs none, so it stays; only experts wait.
  const noCandidates = chosen !== null && chosen.candidates.length === 0;
  const analysis = table ? deriveAnalysis(table, noCandidates ? { ...choices, candidates: null, candidateRowsOnly: false } : choices) : null;
  const heat = analysis?.value ? deriveHeatmap(analysis.value) : null;
  const bases = table ? deriveBaseModels(table) : null;
  const source = s.source;
  const isDemo = source.kind === 'demo';

  // Memoised elements: the pickers list hundreds of names and need not render again while τ moves.
  const { setCategories, setCandidates } = s;
  const categoryPicker = useMemo(
    () =>
      table &&
      chosen && (
        <ChecklistPicker
          legend={
            <>
              Categories{' '}
              <span className="muted">
                ({chosen.categories.length} of {table.columns.length} numeric columns)
              </span>
            </>
          }
          noun={{ one: 'category', many: 'categories' }}
          names={table.columns.map((c) => c.name)}
          selected={chosen.categories}
          defaultSelection={table.categories}
          arrange={(matching) => categorySections(table, matching)}
          shortcuts={[
            {
              label: 'Leaf categories',
              title: "The table's leaf categories, no aggregates",
              value: null,
              disabled: sameList(chosen.categories, table.categories),
            },
          ]}
          onChange={setCategories}
        />
      ),
    [table, chosen, setCategories],
  );
  const candidatePicker = useMemo(() => {
    if (!table || !chosen) return null;
    const selected = chosen.candidates;
    const isDemoSet = isDemo && sameSet(selected, DEMO_CANDIDATES);
    return (
      <ChecklistPicker
        legend={
          <>
            Candidates{' '}
            <span className="muted">
              ({selected.length} of {table.models.length} models)
            </span>
            {isDemoSet && (
              <span className="badge" title="The three 70B models the SoCE paper souped">
                demo: the paper's 70B soup
              </span>
            )}
          </>
        }
        noun={{ one: 'model', many: 'models' }}
        names={table.models}
        selected={selected}
        defaultSelection={table.models}
        arrange={(matching) => candidateSections(matching, bases)}
        shortcuts={[
          { label: 'All', value: null, disabled: selected.length === table.models.length },
          { label: 'None', value: [], disabled: selected.length === 0 },
          ...(isDemo ? [{ label: "Paper's 70B soup", value: DEMO_CANDIDATES, disabled: isDemoSet }] : []),
        ]}
        searchActions
        summarize
        skipLabel="Skip the list: to the heatmap"
        onChange={setCandidates}
      />
    );
  }, [table, chosen, bases, isDemo, setCandidates]);

  const onFiles = async (files: File[]) => {
    setReadError(null);
    try {
      await s.loadFiles(await readTextFiles(files));
    } catch (e) {
      setReadError((e as Error).message);
    }
  };
  const sourceNames = source.kind === 'user' ? source.names.join(', ') : DEMO_ATTRIBUTION.title;
  const sourceLabel = isDemo ? `the ${DEMO_ATTRIBUTION.title} (demo)` : sourceNames;
  const error = readError ?? s.loadError;

  return (
    <div className="scores-view">
      <div className="scores-top">
        <div className="card scores-source" aria-label="Score table source">
          {isDemo ? (
            <>
              <p>
                <span className="badge">demo</span> <strong>{DEMO_ATTRIBUTION.title}</strong> ({table ? `${table.models.length} models` : 'loading…'}) —{' '}
                <a href={DEMO_ATTRIBUTION.url} target="_blank" rel="noreferrer">
                  ShishirPatil/gorilla
                </a>
                , {DEMO_ATTRIBUTION.license}.
              </p>
              <p className="muted">
                {DEMO_ATTRIBUTION.detail}. Candidates preset to the three 70B models the SoCE paper souped (its fourth candidate, {DEMO_FOURTH_CANDIDATE},
                is on the leaderboard too: add it to see the selection change). Drop your own table to replace the demo.
              </p>
            </>
          ) : (
            <>
              <p>
                <strong>{sourceNames}</strong>
                {table ? ` — ${table.models.length} models, ${table.columns.length} numeric columns` : ''}
              </p>
              <button type="button" onClick={() => void s.loadDemo()}>
                Back to the demo table
              </button>
            </>
          )}
        </div>
        <DropArea
          label="Scores"
          hint={
            <>
              Drop a score table here: CSV or TSV (one row per model; <code>78.25%</code> and <code>N/A</code> are fine), JSON, or several lm-eval{' '}
              <code>results_*.json</code> files at once.
            </>
          }
          accept=".csv,.tsv,.tab,.txt,.json,text/csv,application/json"
          multiple
          buttonText="Choose score files…"
          onFiles={(f) => void onFiles(f)}
        />
      </div>
      {error && (
        <p className="error scores-error" role="alert">
          {error}
        </p>
      )}
      {s.status === 'loading' && !table && <p className="muted">Loading the demo table…</p>}
      {tableResult?.error && (
        <p className="error" role="alert">
          {tableResult.error}
        </p>
      )}
      {table && <TableProblems table={table} />}
      {table && chosen && (
        <div className="scores-layout">
          <aside className="scores-controls">
            <SkipToHeatmap />
            <div className="card">
              <label className="field">
                Model column{' '}
                <select value={s.modelColumn ?? table.modelColumn} onChange={(e) => s.setModelColumn(e.target.value)}>
                  {[table.modelColumn, ...table.textColumns.filter((c) => c !== table.modelColumn)].map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                <input type="checkbox" checked={s.candidateRowsOnly} onChange={(e) => s.setCandidateRowsOnly(e.target.checked)} /> Correlate over the
                candidates only <span className="muted">(the paper uses every model)</span>
              </label>
            </div>
            <div className="card">
              {categoryPicker}
            </div>
            <div className="card">
              {candidatePicker}
              {s.candidates === null && defaults && (
                <p className="muted small" data-testid="default-candidates">
                  Candidates to start with: {defaults.why}. Tick others (or All) to change them.
                </p>
              )}
            </div>
          </aside>
          <div className="scores-results">
            <AnalysisToolbar
              tau={s.tau}
              mode={s.mode}
              rule={s.rule}
              method={s.method}
              setTau={s.setTau}
              setMode={s.setMode}
              setRule={s.setRule}
              setMethod={s.setMethod}
            />
            {analysis?.error && (
              <p className="error" role="alert">
                {analysis.error}
              </p>
            )}
            {analysis?.value && heat && (
              <>
                <section className="card" aria-labelledby="heatmap-h" id={HEATMAP_SECTION} tabIndex={-1}>
                  <h3 id="heatmap-h">
                    Correlation between categories{' '}
                    <span className="muted">
                      ({analysis.value.method === 'pearson' ? 'Pearson' : 'Spearman'} over {analysis.value.rows.length} models, cluster order)
                    </span>
                  </h3>
                  <Heatmap model={heat} />
                  <HeatmapLegend
                    tau={analysis.value.tau}
                    rule={analysis.value.rule}
                    lowCount={heat.lowCount / 2}
                    antiCount={heat.antiCount / 2}
                    undefinedCount={heat.undefinedCount}
                  />
                  <CorrelationTable model={heat} />
                </section>
                {noCandidates ? (
                  <p className="card warning" role="status">
                    No candidates: tick the models that may be experts (or All) to see the experts.
                  </p>
                ) : (
                  <ExpertsPanel
                    analysis={analysis.value}
                    sourceLabel={sourceLabel}
                    bases={bases}
                    onCandidates={(models) => s.setCandidates(models.length === table.models.length ? null : models)}
                  />
                )}
                <ClusterList clusters={analysis.value.clusters} tau={analysis.value.tau} />
              </>
            )}
          </div>
        </div>
      )}
    </div>
  );
}

/** The method in a few lines, beside its controls. */
function MethodHelp() {
  return (
    <details className="method-help">
      <summary>What τ, the set L and the two modes mean</summary>
      <p>
        SoCE (<em>Soup Of Category Experts</em>) soups one expert per skill the benchmark measures. The heatmap correlates every pair of categories across the
        models of the table (Pearson ρ, or Spearman on ranks).
      </p>
      <ul>
        <li>
          <strong>τ</strong> is the threshold: categories with ρ &lt; τ measure different skills. Higher τ, more of them.
        </li>
        <li>
          <strong>L</strong> is the paper’s set: every category with ρ &lt; τ against at least one other — a weakly <em>or anti-</em>correlated
          partner (dots: |ρ| &lt; τ; bars: ρ ≤ −τ). The rule |ρ| &lt; τ, the formula as printed in the paper, leaves anti-correlated pairs out.
        </li>
        <li>
          <strong>Paper mode</strong> takes the best candidate of each category in L as an expert. <strong>Clusters mode</strong> (SoupLab’s) groups
          categories correlating at τ or more and takes one expert per group, on its mean score: fewer experts.
        </li>
        <li>The experts are souped (their weights averaged) with weights from a grid in steps of 0.1, plus the uniform soup; evaluate the grid and rank it in Trials.</li>
      </ul>
      <p className="muted">
        Maiti et al., “Souper-Model: How Simple Arithmetic Unlocks State-of-the-Art LLM Performance”,{' '}
        <a href="https://arxiv.org/abs/2511.13254" target="_blank" rel="noreferrer">
          arXiv 2511.13254
        </a>
        , Algorithm 1. More in the docs: <DocsLink page="analysis.md">finding the experts</DocsLink>.
      </p>
    </details>
  );
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && b.every((x) => a.includes(x));
}

interface ToolbarProps {
  tau: number;
  mode: ExpertMode;
  rule: LowCorrelationRule;
  method: CorrelationMethod;
  setTau(t: number): void;
  setMode(m: ExpertMode): void;
  setRule(r: LowCorrelationRule): void;
  setMethod(m: CorrelationMethod): void;
}

function AnalysisToolbar({ tau, mode, rule, method, setTau, setMode, setRule, setMethod }: ToolbarProps) {
  return (
    <div className="card scores-toolbar">
      <label className="tau-field">
        <span>
          Threshold τ{' '}
          <span className="num tau-value" aria-hidden="true">
            {tau.toFixed(2)}
          </span>
        </span>
        <input
          type="range"
          min={0}
          max={1}
          step={0.01}
          value={tau}
          onChange={(e) => setTau(Number(e.target.value))}
          aria-label="Threshold τ"
          aria-valuetext={tau.toFixed(2)}
        />
      </label>
      <fieldset className="segmented">
        <legend>Expert mode</legend>
        {(['paper', 'clusters'] as const).map((m) => (
          <label key={m}>
            <input type="radio" name="expert-mode" value={m} checked={mode === m} onChange={() => setMode(m)} /> {m === 'paper' ? 'Paper (per category)' : 'Clusters'}
          </label>
        ))}
      </fieldset>
      <fieldset className="segmented" aria-describedby="l-rule-note">
        <legend>Set L</legend>
        {LOW_CORRELATION_RULES.map((r) => (
          <label key={r}>
            <input type="radio" name="l-rule" value={r} checked={rule === r} onChange={() => setRule(r)} /> {ruleFormula(r)}
          </label>
        ))}
        <span id="l-rule-note" className="muted">
          {rule === 'signed' ? 'weakly or anti-correlated partner' : 'weakly correlated partner only'}
        </span>
      </fieldset>
      <label className="field">
        Correlation{' '}
        <select value={method} onChange={(e) => setMethod(e.target.value as CorrelationMethod)}>
          <option value="pearson">Pearson</option>
          <option value="spearman">Spearman</option>
        </select>
      </label>
      <MethodHelp />
    </div>
  );
}
