import { useMemo, useState } from 'react';
import { browserMemoryBudget } from '../../browser/memory';
import { DropArea } from '../scores/DropArea';
import { formatBytes } from '../ingredients/format';
import { heldModelBytes, hostFit } from '../../search/fitLoader';
import { readTextFiles } from '../scores/readFiles';
import { useGpuStore } from '../state/gpuStore';
import { useSearchStore, type PlanKind } from '../state/searchStore';
import { describeTasks } from '../state/tasteStore';
import { TasteBackendChoice } from '../taste/TasteBackendChoice';
import type { Ingredient } from '../ingredients/types';
import type { TaskText } from '../taste/protocol';
import type { ModelIdentity, PlanPreview } from './derive';
import type { SearchSettings } from './protocol';

const STEPS = [0.1, 0.2, 0.25, 0.5];

export type ReadyIngredient = Extract<Ingredient, { status: 'ready' }>;

/** What identifies an ingredient's weights without reading them: its files' names and sizes, tensor count. */
export function identityOf(g: ReadyIngredient): ModelIdentity {
  return { name: g.name, identity: `${g.input.kind}: ${g.summary.files.map((f) => `${f.name} ${f.bytes}`).join(', ')}; ${g.summary.tensors} tensors` };
}

/** The form: models and experts, plan, tasks (the Taste step's), backend; the fit check and what the plan will evaluate. */
export function SearchSetup({
  ready,
  tasks,
  settings,
  problem,
  preview,
  disabled,
}: {
  ready: ReadyIngredient[];
  tasks: TaskText[];
  settings: SearchSettings | null;
  problem: string | null;
  preview: PlanPreview | null;
  disabled: boolean;
}) {
  const form = useSearchStore((s) => s.form);
  const setForm = useSearchStore((s) => s.setForm);
  const described = useMemo(() => describeTasks(tasks), [tasks]);
  const [listError, setListError] = useState<string | null>(null);
  const included = ready.filter((g) => !form.excluded.includes(g.name));
  const experts = settings?.experts ?? [];

  const toggle = (list: string[], name: string, on: boolean) => (on ? [...list.filter((n) => n !== name), name] : list.filter((n) => n !== name));
  const setExpert = (name: string, on: boolean) => {
    const next = included.map((g) => g.name).filter((n) => (n === name ? on : experts.includes(n)));
    setForm({ experts: next });
  };

  return (
    <section className="card" aria-labelledby="search-setup-h">
      <h3 id="search-setup-h">Search the weights</h3>
      <p className="muted small">
        Every point is souped in memory (or on the GPU) and scored on the tasks; nothing is written. Evaluated first: each model alone, the uniform soup of all and of the
        experts; then the plan over the experts; then the uniform soup of every coalition (exact Shapley values).
      </p>
      <fieldset disabled={disabled} className="search-fieldset">
        <legend>Models</legend>
        {ready.length === 0 ? (
          <p className="muted">No checkpoint ready: add them in the Ingredients view.</p>
        ) : (
          <table className="search-models">
            <thead>
              <tr>
                <th scope="col">Ingredient</th>
                <th scope="col">In the search</th>
                <th scope="col">Expert (weighed by the plan)</th>
                <th scope="col" className="num">
                  Size
                </th>
              </tr>
            </thead>
            <tbody>
              {ready.map((g) => {
                const inSearch = !form.excluded.includes(g.name);
                return (
                  <tr key={g.id} data-model={g.name}>
                    <th scope="row">{g.name}</th>
                    <td>
                      <input type="checkbox" aria-label={`${g.name} in the search`} checked={inSearch} onChange={(e) => setForm({ excluded: toggle(form.excluded, g.name, !e.currentTarget.checked) })} />
                    </td>
                    <td>
                      <input type="checkbox" aria-label={`${g.name} is an expert`} checked={inSearch && experts.includes(g.name)} disabled={!inSearch} onChange={(e) => setExpert(g.name, e.currentTarget.checked)} />
                    </td>
                    <td className="num">{formatBytes(g.summary.bytes)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </fieldset>

      <fieldset disabled={disabled} className="search-fieldset">
        <legend>Plan</legend>
        {(
          [
            ['grid', 'The paper’s grid: every weighting of the experts in steps, plus the uniform soup'],
            ['adaptive', 'Adaptive: a pattern search on the same grid, from the uniform soup uphill (fewer points)'],
            ['list', 'My list of points: an index.csv (as souplab grid writes: “weight: <model>” columns)'],
          ] as [PlanKind, string][]
        ).map(([kind, label]) => (
          <label key={kind} className="search-plan">
            <input type="radio" name="search-plan" value={kind} checked={form.planKind === kind} onChange={() => setForm({ planKind: kind })} /> {label}
          </label>
        ))}
        {form.planKind !== 'list' ? (
          <label>
            Step{' '}
            <select value={form.step} onChange={(e) => setForm({ step: Number(e.currentTarget.value) })} aria-label="Grid step">
              {STEPS.map((s) => (
                <option key={s} value={s}>
                  {s}
                  {s === 0.1 ? ' (the paper’s)' : ''}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <DropArea
            label="Points"
            hint={<>Drop an index.csv: a “weight: &lt;model&gt;” column per model, a row per point (a “recipe” column names them).</>}
            accept=".csv,.tsv,.txt"
            multiple={false}
            buttonText="Choose index.csv…"
            onFiles={(files) => {
              setListError(null);
              void readTextFiles(files.slice(0, 1)).then(
                ([f]) => setForm({ list: { file: f.name, text: f.text } }),
                (e: unknown) => setListError(e instanceof Error ? e.message : String(e)),
              );
            }}
          >
            {form.list && <span className="muted small">{form.list.file}</span>}
          </DropArea>
        )}
        {listError && <p className="error">{listError}</p>}
      </fieldset>

      <fieldset disabled={disabled} className="search-fieldset">
        <legend>Objective: the sum of the categories (the Taste step’s task files)</legend>
        {described.length === 0 ? (
          <p className="muted">No task files: add them in the Taste step.</p>
        ) : (
          described.map((d) => (
            <label key={d.file} className="search-task">
              <input type="checkbox" checked={!form.skippedTasks.includes(d.file)} onChange={(e) => setForm({ skippedTasks: toggle(form.skippedTasks, d.file, !e.currentTarget.checked) })} /> {d.name}{' '}
              <span className="muted small">
                ({d.kind}, {d.count})
              </span>
            </label>
          ))
        )}
        <div className="search-split">
          <label>
            Tuned on{' '}
            <select value={form.tuneShare} onChange={(e) => setForm({ tuneShare: Number(e.currentTarget.value) })} aria-label="Tune share">
              <option value={0.5}>half of each task’s items (the other half held out)</option>
              <option value={1}>all items (no held-out split)</option>
            </select>
          </label>{' '}
          <label>
            split seed <input type="number" min={0} step={1} value={form.splitSeed} onChange={(e) => setForm({ splitSeed: Math.max(0, Math.floor(Number(e.currentTarget.value) || 0)) })} className="search-seed" />
          </label>
        </div>
      </fieldset>

      <TasteBackendChoice disabled={disabled} />
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : (
        settings && <FitCheck settings={settings} ready={ready} preview={preview} />
      )}
    </section>
  );
}

function FitCheck({ settings, ready, preview }: { settings: SearchSettings; ready: ReadyIngredient[]; preview: PlanPreview | null }) {
  const gpu = useGpuStore((s) => s.gpu);
  const models = settings.models.map((m) => ready.find((g) => g.name === m)!);
  const total = models.reduce((a, g) => a + g.summary.bytes, 0);
  const budget = browserMemoryBudget();
  const k = models.length;
  let line: string;
  if (models.length === 0) line = '';
  else if (settings.backend === 'webgpu') {
    const name = gpu.status === 'ready' ? gpu.adapter.name : 'the GPU';
    const soup = heldModelBytes(models[0].checkpoint, false);
    line = `Fit check: ${k} models (${formatBytes(total)}) + the soup in the model’s weight buffers (${formatBytes(soup.bytes)} ${soup.as}) on ${name}. They are uploaded once and every point is souped there; if the GPU cannot hold them, each point is souped on the CPU and uploaded (${formatBytes(soup.bytes)} per point), and the search says so when it starts.`;
  } else {
    const host = hostFit({ models: k, modelsBytes: total, held: heldModelBytes(models[0].checkpoint, false), budget, bytes: formatBytes, giver: 'this page may hold' });
    line = host.fits
      ? `Fit check: ${host.text}: the models are held in memory, nothing read per point.`
      : `Fit check: ${host.text}, too much: each point streams its models from the files (${formatBytes(total)} read per point).`;
  }
  return (
    <div className="search-fit" data-testid="search-fit">
      <p>{line}</p>
      {preview && (
        <p data-testid="search-preview">
          {preview.plan === null
            ? `${preview.baselines} baselines, the adaptive path from the uniform soup, ${preview.coalitions} coalitions`
            : `${preview.total} points: ${preview.baselines} baselines, ${preview.plan} more in the plan, ${preview.coalitions} coalitions`}
          {preview.stored > 0 ? `; ${preview.stored} already evaluated (kept from an earlier run, not evaluated again)` : ''}.
        </p>
      )}
    </div>
  );
}
