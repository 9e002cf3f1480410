import { useEffect, useMemo, useState } from 'react';
import { loadTrials } from '../../browser/searchDb';
import { searchIdOf } from '../../search/manifest';
import { objectiveRule } from '../../search/objective';
import type { TrialRecord } from '../../search/runSearch';
import { chartRanking, manifestOf, planPreview, trialIds, type PlanPreview } from '../search/derive';
import type { SearchSettings } from '../search/protocol';
import { specOf } from '../search/searchJob';
import { EvidencePanel, SearchDownloads, SearchTrialsTable } from '../search/SearchResults';
import { ClusterPanel } from '../search/ClusterPanel';
import { ForecastNote } from '../components/ForecastNote';
import { tokensPerSecond } from '../evalWorker/pace';
import { duration, paceText, type PlanForecast } from '../../eval/estimate';
import { identityOf, SearchSetup, type ReadyIngredient } from '../search/SearchSetup';
import { messageOf } from '../ingredients/openIngredient';
import { useNavigationStore } from '../state/navigationStore';
import { useSearchStore, type SearchProgress } from '../state/searchStore';
import { useSoupStore } from '../state/soupStore';
import { useTasteStore } from '../state/tasteStore';
import { useTasteBackend } from '../taste/TasteBackendChoice';
import type { TaskText } from '../taste/protocol';
import { ObjectiveChart } from '../trials/ObjectiveChart';
import { useVocabularyWarning } from '../search/useVocabularyWarning';
import './search.css';

/** The settings of the form, or why the form cannot start a search yet. */
function useSettings(ready: ReadyIngredient[], tasks: TaskText[]): { settings: SearchSettings | null; problem: string | null } {
  const form = useSearchStore((s) => s.form);
  const weights = useSoupStore((s) => s.weights);
  const vocabulary = useSoupStore((s) => s.vocabulary);
  const metric = useTasteStore((s) => s.metric);
  const { choice } = useTasteBackend();
  return useMemo(() => {
    const models = ready.map((g) => g.name).filter((n) => !form.excluded.includes(n));
    if (models.length === 0) return { settings: null, problem: ready.length === 0 ? 'Add checkpoints in the Ingredients view.' : 'Put at least one model in the search.' };
    const soupExperts = models.filter((m) => (weights[m] ?? 0) > 0);
    const experts = (form.experts ?? (soupExperts.length > 0 ? soupExperts : models)).filter((e) => models.includes(e));
    const chosen = tasks.filter((t) => !form.skippedTasks.includes(t.file)).map((t) => t.file);
    if (form.planKind === 'list' && !form.list) return { settings: null, problem: 'Choose the index.csv of points for the list plan.' };
    const plan = form.planKind === 'list' ? { kind: 'list' as const, file: form.list!.file, text: form.list!.text } : { kind: form.planKind, step: form.step };
    const settings: SearchSettings = { models, experts, plan, tasks: chosen, metric, splitSeed: form.splitSeed, tuneShare: form.tuneShare, backend: choice, ...(vocabulary === 'rows' ? {} : { tokenizerSource: vocabulary }) };
    if (experts.length === 0) return { settings, problem: 'Choose at least one expert: the plan weighs the experts.' };
    if (chosen.length === 0) return { settings, problem: 'Choose at least one task file (add them in the Taste step).' };
    try {
      specOf(settings);
    } catch (e) {
      return { settings, problem: messageOf(e) };
    }
    return { settings, problem: null };
  }, [ready, tasks, form, weights, vocabulary, metric, choice]);
}

/** The Search step: the SoCE loop in the browser — plan, progress, the objective over the grid, trials, evidence, export. */
export function SearchView() {
  const s = useSearchStore();
  const initSearch = useSearchStore((st) => st.init);
  const initSoup = useSoupStore((st) => st.init);
  const initTaste = useTasteStore((st) => st.init);
  useEffect(() => {
    void initSoup();
    void initTaste();
    void initSearch();
  }, [initSoup, initTaste, initSearch]);
  const ingredients = useSoupStore((st) => st.ingredients);
  const tasks = useTasteStore((st) => st.tasks);
  const ready = useMemo(() => ingredients.filter((g): g is ReadyIngredient => g.status === 'ready'), [ingredients]);
  const { settings, problem } = useSettings(ready, tasks);
  const active = s.phase !== 'idle';
  const preview = usePreview(settings, problem, ready, tasks, s.trials.length, active);
  const vocabularyWarning = useVocabularyWarning(settings, ready);

  const argsOf = (settings: SearchSettings) => {
    const models = settings.models.map((m) => ready.find((g) => g.name === m)!);
    return { settings, models: models.map(identityOf), ingredients: models.map((g) => g.input), tasks: tasks.filter((t) => settings.tasks.includes(t.file)) };
  };
  const start = () => {
    if (settings) void s.start(argsOf(settings));
  };
  const estimate = () => {
    if (settings) void s.estimate(argsOf(settings));
  };
  // Resume only what an earlier run left unfinished (the preview holds still while this run goes on).
  const resuming = preview !== null && preview.stored > 0 && (preview.plan === null || preview.stored < preview.total);

  return (
    <div className="search-view">
      <SearchSetup ready={ready} tasks={tasks} settings={settings} problem={problem} preview={preview} disabled={active} />
      <section className="card" aria-labelledby="search-run-h">
        <h3 id="search-run-h" className="visually-hidden">
          Run
        </h3>
        {vocabularyWarning && (
          <p className="warning small" data-testid="search-vocabulary">
            Warning: {vocabularyWarning}.
          </p>
        )}
        <div className="taste-actions">
          <button type="button" className="primary" disabled={active || settings === null || problem !== null} onClick={start}>
            {resuming ? 'Resume the search' : 'Start the search'}
          </button>
          <button type="button" disabled={active || settings === null || problem !== null} onClick={estimate} title="Load the evaluator and time a short warm-up: the plan's time, before anything is evaluated">
            Estimate the time
          </button>
          <button type="button" disabled={!active || s.phase === 'cancelling'} onClick={() => s.cancel()}>
            Cancel
          </button>
          {!active && s.search && (
            <button type="button" className="link" onClick={() => void s.discard()}>
              Delete the stored results
            </button>
          )}
        </div>
        {s.started && active && (
          <p className="muted small" data-testid="search-started">
            {s.started.fit}. Evaluated on {s.started.backend}.{s.started.stored > 0 ? ` ${s.started.stored} points taken from the stored results.` : ''}
          </p>
        )}
        {s.phase === 'starting' && <p role="status">Opening the checkpoints…</p>}
        {s.phase === 'estimating' && <p role="status">Loading the evaluator and timing a warm-up…</p>}
        <ForecastNote forecast={s.forecast} testId="search-forecast" />
        {active && s.progress && <ProgressBar progress={s.progress} forecast={s.forecast} cancelling={s.phase === 'cancelling'} />}
        {s.message && (
          <p className={s.message.kind === 'error' ? 'error' : s.message.kind === 'warning' ? 'warning' : 'ok'} role={s.message.kind === 'info' ? 'status' : 'alert'} data-testid="search-message">
            {s.message.text}
          </p>
        )}
        {s.started && s.started.problems.length > 0 && (
          <details className="warning small">
            <summary>{s.started.problems.length} items could not be scored</summary>
            <ul>
              {s.started.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </details>
        )}
      </section>
      {s.search && s.trials.length > 0 && <Results trials={s.trials} exportDisabled={active} />}
      <ClusterPanel settings={settings} problem={problem} />
    </div>
  );
}

/**
 * What the form's settings will evaluate and how much is stored. It holds still while a search runs: the
 * points this run evaluates are not "kept from an earlier run".
 */
function usePreview(settings: SearchSettings | null, problem: string | null, ready: ReadyIngredient[], tasks: TaskText[], trialsShown: number, running: boolean): PlanPreview | null {
  const [preview, setPreview] = useState<{ of: SearchSettings; value: PlanPreview | null } | null>(null);
  useEffect(() => {
    let live = true;
    if (!settings || problem || running) return;
    void (async () => {
      try {
        const models = settings.models.map((m) => identityOf(ready.find((g) => g.name === m)!));
        const id = await searchIdOf(await manifestOf(settings, models, tasks.filter((t) => settings.tasks.includes(t.file))));
        const stored = new Set((await loadTrials(id).catch(() => [] as TrialRecord[])).map((t) => t.key));
        if (live) setPreview({ of: settings, value: planPreview(settings, stored) });
      } catch {
        if (live) setPreview({ of: settings, value: null });
      }
    })();
    return () => {
      live = false;
    };
  }, [settings, problem, ready, tasks, trialsShown, running]);
  return settings && !problem && preview?.of === settings ? preview.value : null;
}

function ProgressBar({ progress: p, forecast, cancelling }: { progress: SearchProgress; forecast: PlanForecast | null; cancelling: boolean }) {
  const within = p.scoring && p.scoring.tokensTotal > 0 ? p.scoring.tokensDone / p.scoring.tokensTotal : 0;
  const fraction = p.planned > 0 ? Math.min(1, (p.done + within) / p.planned) : 0;
  const percent = Math.round(fraction * 1000) / 10;
  const tps = tokensPerSecond(p.pace);
  // Until the search has timed a point of its own, the time left is the warm-up's pace over the tokens left.
  const left = p.etaSeconds ?? (forecast && p.planned > 0 ? (Math.max(0, p.planned - p.done - within) * forecast.tokensPerPoint) / (tps ?? forecast.tokensPerSecond) : undefined);
  const eta = `${tps === undefined ? '' : `, ${paceText(tps)}`}${left === undefined ? '' : `, about ${duration(left)} left`}`;
  const text = cancelling
    ? 'Cancelling after the current batch…'
    : p.planned === 0
      ? 'Preparing the points…'
      : `${p.done} of ${p.planned} points done${p.phase ? ` (${p.phase})` : ''}${eta}${p.scoring ? `; scoring a soup: ${p.scoring.tokensDone.toLocaleString('en')} of ${p.scoring.tokensTotal.toLocaleString('en')} tokens` : ''}`;
  return (
    <div className="progress">
      <div role="progressbar" aria-label="Search progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={text} className="progress-track">
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-text num" data-testid="search-progress" data-done={p.done} data-planned={p.planned} data-evaluated={p.evaluated}>
        {text}
      </p>
    </div>
  );
}

function Results({ trials, exportDisabled }: { trials: TrialRecord[]; exportDisabled: boolean }) {
  const search = useSearchStore((st) => st.search)!;
  const exportTrial = useSearchStore((st) => st.exportTrial);
  const setWeights = useSoupStore((st) => st.setWeights);
  const setNormalise = useSoupStore((st) => st.setNormalise);
  const ingredients = useSoupStore((st) => st.ingredients);
  const show = useNavigationStore((st) => st.show);
  const settings = search.settings;
  const evidence = search.evidence;
  const categories = evidence?.categories ?? Object.keys(trials[0]?.tune ?? {});
  const ids = useMemo(() => trialIds(trials), [trials]);
  const bestKey = evidence?.best?.key ?? null;
  const chart = useMemo(() => chartRanking(trials, ids, settings, categories, bestKey), [trials, ids, settings, categories, bestKey]);
  const missing = settings.models.filter((m) => !ingredients.some((g) => g.name === m && g.status === 'ready'));

  const onExport = (t: TrialRecord, id: string) => {
    if (!evidence) return;
    const e = exportTrial(t, id, evidence);
    // The soup on screen becomes this row: its weights on its models, every other ingredient at 0.
    setWeights({ ...Object.fromEntries(ingredients.map((g) => [g.name, 0])), ...Object.fromEntries(Object.entries(e.weights).map(([m, w]) => [m, Math.round(w * 1e9) / 1e9])) });
    setNormalise(true);
    show('merge');
  };

  return (
    <>
      <section className="card search-summary" data-state={search.state}>
        <p>
          {search.state === 'done' ? 'Finished search' : search.state === 'running' ? 'Search' : `Stopped search (${search.state})`} over {settings.models.join(', ')}; experts {settings.experts.join(', ')};{' '}
          {settings.plan.kind === 'list' ? `list ${settings.plan.file}` : `${settings.plan.kind}, step ${settings.plan.step}`}. {trials.length} trials kept in this browser.
        </p>
        <p className="muted small" data-testid="search-objective">
          Objective: {objectiveRule(settings.metric)}.
        </p>
        {search.loader && <p className="muted small">{search.loader}</p>}
        <SearchDownloads search={search} trials={trials} />
        {missing.length > 0 && <p className="warning small">Not among the ingredients now: {missing.join(', ')} (export needs them; add them again in the Ingredients view).</p>}
      </section>
      {evidence ? (
        <EvidencePanel evidence={evidence} trials={trials} chart={<ObjectiveChart ranking={chart.ranking} models={chart.experts} />} />
      ) : (
        <div className="search-grid">
          <ObjectiveChart ranking={chart.ranking} models={chart.experts} />
          <p className="muted">The evidence appears with the first point evaluated in this run.</p>
        </div>
      )}
      <SearchTrialsTable
        trials={trials}
        ids={ids}
        models={settings.models}
        categories={categories}
        bestKey={bestKey}
        onExport={onExport}
        exportDisabled={exportDisabled || !evidence || missing.length > 0}
      />
    </>
  );
}
