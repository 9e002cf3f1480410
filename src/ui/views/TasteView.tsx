import { formatWeight } from '../ingredients/format';
import { useEffect, useId, useMemo } from 'react';
import type { ChoiceMetric } from '../../eval/scores';
import { useSoupStatus } from '../ingredients/useSoupStatus';
import { recipeYamlOf } from '../ingredients/recipeIO';
import { namesInMerge } from '../ingredients/soup';
import { uniqueName } from '../ingredients/names';
import { workerIngredient } from '../ingredients/types';
import { DropArea } from '../scores/DropArea';
import { useNavigationStore } from '../state/navigationStore';
import { useScoresStore } from '../state/scoresStore';
import { useSoupStore } from '../state/soupStore';
import { describeTasks, useTasteStore, type TasteRun } from '../state/tasteStore';
import { useTrialsStore } from '../state/trialsStore';
import { TasteBackendChoice, useTasteBackend } from '../taste/TasteBackendChoice';
import { TasteCharts, TasteTable } from '../taste/TasteResults';
import type { TasteProgress } from '../taste/protocol';
import { tasteObjectiveRule, tasteScoreCsv, tasteTrialsCsv } from '../taste/tables';
import { DocsLink } from '../components/DocsLink';
import { ForecastNote } from '../components/ForecastNote';
import { tokensPerSecond, type Pace } from '../evalWorker/pace';
import { duration, paceText } from '../../eval/estimate';
import './taste.css';

/** Taste: score the soup on screen and each of its ingredients on the user's task files, side by side. */
export function TasteView() {
  const t = useTasteStore();
  const init = useTasteStore((s) => s.init);
  const initSoup = useSoupStore((s) => s.init);
  useEffect(() => {
    void init();
    void initSoup();
  }, [init, initSoup]);
  const ingredients = useSoupStore((s) => s.ingredients);
  const status = useSoupStatus();
  const { choice } = useTasteBackend();
  const tasks = useMemo(() => describeTasks(t.tasks), [t.tasks]);
  const runningNow = t.phase === 'running' || t.phase === 'estimating';

  const blockers = [...status.blockers];
  if (t.tasks.length === 0) blockers.push('Add task files (or use the demo tasks).');

  const request = () => {
    const names = namesInMerge(status.spec);
    const inputs = ingredients.filter((g) => names.includes(g.name)).map((g) => workerIngredient(g.input, g.name));
    return { ingredients: inputs, recipeYaml: recipeYamlOf(status.spec), backend: choice, soupName: uniqueName('soup', names) };
  };
  const start = () => t.start(request(), Object.fromEntries(status.spec.models.map((m) => [m.name, m.weight])));

  return (
    <div className="taste-view">
      <section className="card" aria-labelledby="taste-tasks-h">
        <h3 id="taste-tasks-h">Tasks</h3>
        <DropArea
          label="Task files"
          hint={
            <>
              Drop task files here: multiple choice as JSONL (<code>{'{"query", "choices", "gold"}'}</code>, or ARC / HellaSwag / PIQA / MMLU fields), perplexity as
              .txt (or JSONL with a <code>text</code> field). Each file is one category.
            </>
          }
          accept=".jsonl,.ndjson,.txt"
          multiple
          buttonText="Choose task files…"
          onFiles={(f) => void t.addTaskFiles(f)}
        >
          <button type="button" onClick={() => void t.useDemoTasks()} disabled={runningNow}>
            Use the demo tasks
          </button>
        </DropArea>
        {t.tasksSource === 'demo' && <p className="muted small">The demo task set (written for SoupLab: facts, arithmetic, tool calls, prose).</p>}
        {tasks.length > 0 && (
          <ul className="taste-task-list" aria-label="Tasks">
            {tasks.map((d) => (
              <li key={d.file} data-task={d.name}>
                <strong>{d.name}</strong> <span className="muted">{d.kind}, {d.count} {d.kind === 'perplexity' ? (d.count === 1 ? 'text' : 'texts') : d.count === 1 ? 'item' : 'items'}</span>{' '}
                <button type="button" className="link" onClick={() => t.removeTask(d.file)} disabled={runningNow} aria-label={`Remove ${d.name}`}>
                  remove
                </button>
                {d.problems.map((p) => (
                  <p key={p} className="warning small">
                    {p}
                  </p>
                ))}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="card" aria-labelledby="taste-run-h">
        <h3 id="taste-run-h">Taste the soup</h3>
        <p>
          {status.spec.models.length > 0 ? (
            <>
              The soup of the Ingredients view ({status.spec.models.map((m) => `${m.name} × ${formatWeight(m.weight)}`).join(', ')}
              {status.spec.normalise ? ', normalised' : ''}), souped in memory and never written, then each of its {status.spec.models.length} ingredients as it is.
            </>
          ) : (
            'No soup yet: add checkpoints in the Ingredients view.'
          )}
        </p>
        <TasteBackendChoice disabled={runningNow} />
        <div className="taste-actions">
          <label>
            Multiple choice score{' '}
            <select value={t.metric} onChange={(e) => t.setMetric(e.currentTarget.value as ChoiceMetric)}>
              <option value="acc_norm">acc_norm (length-normalised)</option>
              <option value="acc">acc</option>
            </select>
          </label>
          <button type="button" className="primary" disabled={runningNow || blockers.length > 0} onClick={start}>
            Taste
          </button>
          <button type="button" disabled={runningNow || blockers.length > 0} onClick={() => t.estimate(request())} title="Load the evaluator and time a short warm-up: the run's time, before anything is scored">
            Estimate the time
          </button>
          {runningNow && (
            <button type="button" onClick={() => t.cancel()}>
              Cancel
            </button>
          )}
        </div>
        {blockers.length > 0 && !runningNow && (
          <ul className="blockers">
            {blockers.map((b) => (
              <li key={b}>{b}</li>
            ))}
          </ul>
        )}
        <ForecastNote forecast={t.forecast} testId="taste-forecast" />
        {t.phase === 'estimating' && <p role="status">Loading the evaluator and timing a warm-up…</p>}
        {t.phase === 'running' && <TasteProgressBar progress={t.progress} pace={t.pace} />}
        {t.message && (
          <p className={t.phase === 'cancelled' ? 'warning' : 'error'} role="alert">
            {t.message}
          </p>
        )}
      </section>

      {t.run && t.run.results.length > 0 && <TasteRunResults run={t.run} running />}
      {t.runs.map((run) => (
        <TasteRunResults key={run.at} run={run} running={false} />
      ))}
    </div>
  );
}

function TasteProgressBar({ progress, pace }: { progress: TasteProgress | null; pace: Pace }) {
  const fraction = progress ? (progress.modelIndex + (progress.tokensTotal > 0 ? progress.tokensDone / progress.tokensTotal : 0)) / progress.models : 0;
  const percent = Math.round(fraction * 1000) / 10;
  const tps = tokensPerSecond(pace);
  const left = progress && tps !== undefined ? ((progress.models - progress.modelIndex) * progress.tokensTotal - progress.tokensDone) / tps : undefined;
  const rate = tps === undefined ? '' : `; ${paceText(tps)}${left === undefined ? '' : `, about ${duration(left)} left`}`;
  const text = !progress
    ? 'Opening the checkpoints and reading the tasks…'
    : progress.phase === 'loading'
      ? `Loading ${progress.model} (${progress.modelIndex + 1} of ${progress.models})…`
      : `Scoring ${progress.model} (${progress.modelIndex + 1} of ${progress.models}): ${progress.task}, ${progress.tokensDone.toLocaleString('en')} of ${progress.tokensTotal.toLocaleString('en')} tokens${rate}`;
  return (
    <div className="progress">
      <div role="progressbar" aria-label="Taste progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={`${percent} %: ${text}`} className="progress-track">
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-text num" data-testid="taste-progress">
        {text}
      </p>
    </div>
  );
}

/** One run's scores: the run in progress (as its models are scored), or a finished run's until the user removes them. */
function TasteRunResults({ run, running }: { run: TasteRun; running: boolean }) {
  const metric = useTasteStore((s) => s.metric);
  const removeRun = useTasteStore((s) => s.removeRun);
  const show = useNavigationStore((s) => s.show);
  const loadScores = useScoresStore((s) => s.loadFiles);
  const loadTrials = useTrialsStore((s) => s.loadFile);
  const headingId = useId();
  const when = new Date(run.at).toLocaleTimeString('en-GB');
  const state = running ? 'running' : (run.ended ?? 'done');
  return (
    <section className="card" aria-labelledby={headingId} data-run-state={state}>
      <h3 id={headingId}>Scores side by side</h3>
      <p className="muted small">
        {running ? 'This run so far' : `The run started at ${when}`}
        {state === 'cancelled' ? ' (cancelled: the models scored before the cancel)' : state === 'failed' ? ' (failed: the models scored before the failure)' : ''}.{' '}
        {run.backend && `On ${run.backend}. `}
        {metric === 'acc_norm' ? 'Multiple choice: acc_norm %' : 'Multiple choice: acc %'}; perplexity as −bits per byte (higher is better, 0 is perfect).{' '}
        <DocsLink page="evaluation.md">How tasks are scored</DocsLink>
      </p>
      {run.problems.length > 0 && (
        <details className="warning small">
          <summary>
            {run.problems.length} item{run.problems.length > 1 ? 's' : ''} could not be scored
          </summary>
          <ul>
            {run.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      <TasteTable results={run.results} metric={metric} />
      <div className="taste-actions">
        <button
          type="button"
          disabled={running}
          onClick={() => {
            void loadScores([{ name: 'taste-scores.csv', text: tasteScoreCsv(run.results, metric) }]).then(() => show('scores'));
          }}
        >
          Send to Scores
        </button>
        <button
          type="button"
          disabled={running || run.results.length < 2}
          onClick={() => {
            void loadTrials({ name: 'taste-trials.csv', text: tasteTrialsCsv(run.results, run.soupWeights, metric) }, tasteObjectiveRule(metric)).then(() => show('trials'));
          }}
        >
          Send to Trials
        </button>
        {!running && (
          <button type="button" className="link" onClick={() => removeRun(run.at)}>
            Remove these scores
          </button>
        )}
      </div>
      <TasteCharts results={run.results} metric={metric} />
    </section>
  );
}
