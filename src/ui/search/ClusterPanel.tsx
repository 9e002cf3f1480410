import { useMemo, useState } from 'react';
import { importResults, planFiles, type ImportedResults } from '../../search/cluster/planFiles';
import { downloadText } from '../components/download';
import { hasDirectoryPicker, isPickerCancel, showDirectoryPicker } from '../ingredients/fsAccess';
import { messageOf } from '../ingredients/openIngredient';
import { ObjectiveChart } from '../trials/ObjectiveChart';
import { chartRanking, trialIds } from './derive';
import type { SearchSettings } from './protocol';
import { specOf } from './searchJob';
import { EvidencePanel, SearchTrialsTable } from './SearchResults';
import { weightsText } from '../../search/outputs';
import { DocsLink } from '../components/DocsLink';

/** Writes the plan's files into a folder the user picks (recipes/ made inside). */
async function writePlan(files: { name: string; text: string }[]): Promise<string> {
  const dir = await showDirectoryPicker('readwrite', 'souplab-cluster-plan');
  for (const f of files) {
    const parts = f.name.split('/');
    let at = dir;
    for (const p of parts.slice(0, -1)) at = await at.getDirectoryHandle(p, { create: true });
    const handle = await at.getFileHandle(parts[parts.length - 1], { create: true });
    const writable = await handle.createWritable();
    await writable.write(f.text);
    await writable.close();
  }
  return dir.name;
}

/**
 * The Search step for a cluster: the plan exported as files (index.csv for `souplab search --plan`, a
 * recipe per point, search.json) to run there with `--evaluator-cmd`, and a results folder's
 * trials.jsonl imported back to show its report, Shapley values and chart (docs/cluster.md).
 */
export function ClusterPanel({ settings, problem }: { settings: SearchSettings | null; problem: string | null }) {
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [imported, setImported] = useState<ImportedResults | null>(null);

  const exportPlan = async () => {
    if (!settings) return;
    try {
      const files = planFiles(specOf(settings), settings.models, 'exported by the SoupLab studio; model paths are the ingredient names: edit them, or name folders so', settings.tokenizerSource);
      const points = files.filter((f) => f.name.startsWith('recipes/')).length;
      if (hasDirectoryPicker()) {
        const where = await writePlan(files);
        setMessage({ kind: 'ok', text: `Wrote ${points} recipes, index.csv and search.json into ${where}.` });
      } else {
        downloadText('index.csv', files.find((f) => f.name === 'index.csv')!.text, 'text/csv');
        downloadText('search.json', files.find((f) => f.name === 'search.json')!.text, 'application/json');
        setMessage({ kind: 'ok', text: `Downloaded index.csv and search.json (${points} points); this browser cannot write a folder of recipes.` });
      }
    } catch (e) {
      if (!isPickerCancel(e)) setMessage({ kind: 'error', text: messageOf(e) });
    }
  };

  const importFiles = async (list: FileList | null) => {
    if (!list || list.length === 0) return;
    const files = [...list];
    const trials = files.find((f) => f.name.endsWith('.jsonl'));
    const search = files.find((f) => f.name === 'search.json');
    try {
      if (!trials) throw new Error('Choose the trials.jsonl of a results folder (and its search.json for the model names).');
      const result = importResults(await trials.text(), trials.name, search ? { text: await search.text(), name: search.name } : undefined);
      setImported(result);
      setMessage({ kind: 'ok', text: `Imported ${result.trials.length} trials${result.failed.length ? ` and ${result.failed.length} failed points` : ''} from ${trials.name}.` });
    } catch (e) {
      setImported(null);
      setMessage({ kind: 'error', text: messageOf(e) });
    }
  };

  return (
    <section className="card" aria-labelledby="search-cluster-h">
      <h3 id="search-cluster-h">On a cluster</h3>
      <p className="muted small">
        Export this plan to evaluate it elsewhere (<code>souplab search --plan index.csv{settings?.tokenizerSource ? ` --tokenizer-source ${settings.tokenizerSource}` : ''} --evaluator-cmd …</code>, on Slurm with <code>--launcher slurm</code>), then import the results folder&apos;s
        trials.jsonl here. <DocsLink page="cluster.md">Running the search on a cluster</DocsLink>
      </p>
      <div className="taste-actions">
        <button type="button" disabled={settings === null || problem !== null} onClick={() => void exportPlan()}>
          Export the plan for a cluster
        </button>
        <label>
          Import results (trials.jsonl, and search.json for the names):{' '}
          <input type="file" accept=".jsonl,.json" multiple aria-label="Import a cluster's results" onChange={(e) => void importFiles(e.target.files)} />
        </label>
      </div>
      {message && (
        <p className={message.kind === 'error' ? 'error' : 'ok'} role={message.kind === 'error' ? 'alert' : 'status'} data-testid="cluster-message">
          {message.text}
        </p>
      )}
      {imported && <ImportedView results={imported} />}
    </section>
  );
}

function ImportedView({ results: r }: { results: ImportedResults }) {
  const ids = useMemo(() => trialIds(r.trials), [r.trials]);
  const bestKey = r.evidence.best?.key ?? null;
  const settings = useMemo(
    (): SearchSettings => ({ models: r.models, experts: r.experts.map((e) => r.models[e]), plan: { kind: 'grid', step: 0.1 }, tasks: r.categories, metric: 'acc_norm', splitSeed: 0, tuneShare: 0.5, backend: 'cpu' }),
    [r],
  );
  const chart = useMemo(() => chartRanking(r.trials, ids, settings, r.categories, bestKey), [r, ids, settings, bestKey]);
  return (
    <div data-testid="cluster-imported">
      {r.failed.length > 0 && (
        <details className="warning small">
          <summary>{r.failed.length} points failed</summary>
          <ul>
            {r.failed.map((f) => (
              <li key={f.key}>
                {weightsText(f.weights, r.models)}: {f.failed.reason} ({f.failed.attempts} tries)
                <pre>{f.failed.logTail}</pre>
              </li>
            ))}
          </ul>
        </details>
      )}
      <EvidencePanel evidence={r.evidence} trials={r.trials} chart={<ObjectiveChart ranking={chart.ranking} models={chart.experts} />} />
      <SearchTrialsTable trials={r.trials} ids={ids} models={r.models} categories={r.categories} bestKey={bestKey} onExport={() => undefined} exportDisabled />
    </div>
  );
}
