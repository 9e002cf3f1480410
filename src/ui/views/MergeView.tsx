import { formatWeight } from '../ingredients/format';
import { useEffect, useState } from 'react';
import { formatBytes, formatInt } from '../ingredients/format';
import { hasDirectoryPicker, hasSaveFilePicker } from '../ingredients/fsAccess';
import { recipeYamlOf } from '../ingredients/recipeIO';
import { namesInMerge } from '../ingredients/soup';
import { useSoupStatus } from '../ingredients/useSoupStatus';
import { sharesOf } from '../ingredients/weights';
import { estimateGgufBytes } from '../../merge/soupGguf';
import { BackendChoice, useBackendChoice } from '../merge/BackendChoice';
import { FormatChoice, ggufTypeOf, useGgufCheck } from '../merge/FormatChoice';
import { GpuNote } from '../merge/method/GpuNote';
import { DEFAULT_SETUP, methodOf } from '../merge/method/methodSetup';
import { discardPreparedMerge, prepareMerge } from '../merge/mergeClient';
import { LiveProgressPanel } from '../merge/ProgressPanel';
import { ResultPanel } from '../merge/ResultPanel';
import { soupNameOf } from '../merge/browserStorage';
import { StoragePanel } from '../merge/StoragePanel';
import { useShallow } from 'zustand/react/shallow';
import { useMergeStore, type OutputKind } from '../state/mergeStore';
import { useNavigationStore } from '../state/navigationStore';
import { provenanceFor, useSearchStore } from '../state/searchStore';
import { useSoupStore, type OutDtypeChoice } from '../state/soupStore';
import './merge.css';

const OUTPUTS: { kind: OutputKind; label: string; hint: string; available: () => boolean }[] = [
  { kind: 'folder', label: 'A folder', hint: 'model (sharded above 5 GB) + recipe.yaml + the base model’s config and tokenizer files', available: hasDirectoryPicker },
  { kind: 'file', label: 'One .safetensors file', hint: 'the model only, in a single file', available: hasSaveFilePicker },
  { kind: 'opfs', label: 'Browser storage, then download', hint: 'for browsers without file pickers (Firefox, Safari)', available: () => true },
];
/** The same places for a GGUF export, which is always one file. */
const GGUF_OUTPUTS: Record<OutputKind, { label: string; hint: string }> = {
  folder: { label: 'A folder', hint: 'the soup as one .gguf file named after its models' },
  file: { label: 'One .gguf file', hint: 'where and under which name you choose' },
  opfs: OUTPUTS[2],
};
/** The places for a LoRA adapter: two files, so a folder (no single file). */
const LORA_OUTPUTS: Record<OutputKind, { label: string; hint: string }> = {
  folder: { label: 'A folder', hint: 'adapter_config.json + adapter_model.safetensors, as PEFT saves an adapter' },
  file: { label: 'One .safetensors file', hint: 'not for an adapter: it is two files' },
  opfs: OUTPUTS[2],
};

/** The Merge view: built on the engine modules; no merge or analysis logic here. */
export function MergeView() {
  const init = useSoupStore((s) => s.init);
  const ingredients = useSoupStore((s) => s.ingredients);
  const outDtype = useSoupStore((s) => s.outDtype);
  const setOutDtype = useSoupStore((s) => s.setOutDtype);
  const status = useSoupStatus();
  const { choice } = useBackendChoice();
  // Everything but the progress, which only the progress panel reads: its updates (10 a second) must
  // not re-render the whole view (measured: most of the page's main-thread time during a merge).
  const m = useMergeStore(useShallow((s) => ({ ...s, progress: null })));
  const show = useNavigationStore((s) => s.show);
  const gguf = m.format === 'gguf';
  const lora = m.format === 'lora';
  const ggufCheck = useGgufCheck(status.plan, gguf);
  const ggufType = ggufTypeOf(status.plan, m.ggufType);
  useEffect(() => {
    void init();
  }, [init]);

  const active = m.phase === 'running' || m.phase === 'cancelling';
  // A LoRA adapter is two files: a folder, or browser storage.
  const outputs = OUTPUTS.map((o) => ({ ...o, ok: o.available() && !(lora && o.kind === 'file') }));
  const placeOf = (o: (typeof OUTPUTS)[number]) => (gguf ? GGUF_OUTPUTS[o.kind] : lora ? LORA_OUTPUTS[o.kind] : o);
  const output = outputs.find((o) => o.kind === m.output && o.ok) ?? outputs.find((o) => o.ok)!;
  const plan = status.plan;
  const models = status.spec.models;
  const method = methodOf(status.spec.method ?? DEFAULT_SETUP);
  const linear = method.name === 'linear';
  const shares = !linear ? undefined : status.spec.normalise ? sharesOf(models.map((x) => x.weight)) : models.map((x) => x.weight);
  const inputDtypes = plan ? [...new Set(plan.steps.flatMap((s) => (s.kind !== 'copy' ? [s.inputs[0].info.dtype] : [])))] : [];
  const blocked = status.blockers.length > 0;
  const ggufRefused = ggufCheck?.state === 'problem';
  const loraBase = status.spec.base?.name;
  const loraRefused = lora && !loraBase;
  const outputBytes = plan ? (gguf ? estimateGgufBytes(plan, ggufType) : plan.outputBytes) : 0;
  // The storage list is read again after every merge (a soup may have been added, or a failed one removed).
  const storageVersion = m.phase === 'running' ? -1 : (m.result?.seconds ?? 0);
  // Confirming an extrapolation holds for exactly the weights it was given for.
  const [confirmed, setConfirmed] = useState<string | undefined>(undefined);
  // A row exported from the Search step: its evidence goes into the output's metadata while the soup is that row's.
  const provenance = provenanceFor(useSearchStore((s) => s.exported), models);
  const unconfirmed = status.extrapolation !== undefined && confirmed !== status.extrapolation;
  // The next merge's worker (and its CPU workers) start while the user looks at this view, so that
  // the click finds them ready; they end when the view closes.
  const ready = plan !== undefined && plan !== null && !blocked;
  useEffect(() => {
    if (ready && !active) prepareMerge(choice);
  }, [ready, active, choice]);
  useEffect(() => discardPreparedMerge, []);

  const merge = () => {
    if (m.output !== output.kind) m.setOutput(output.kind);
    const names = new Set(namesInMerge(status.spec));
    void m.start({
      ingredients: ingredients.filter((g) => names.has(g.name)).map((g) => g.input),
      recipeYaml: recipeYamlOf(status.spec),
      backend: choice,
      suggestedName: soupNameOf(models.map((x) => x.name)),
      outputBytes,
      ggufType: gguf ? ggufType : undefined,
      metadata: provenance?.metadata,
      loraRank: lora ? m.loraRank : undefined,
    });
  };

  return (
    <div className="merge-view">
      <section className="card" aria-labelledby="soup-h">
        <h3 id="soup-h">The soup</h3>
        {models.length === 0 ? (
          <p className="muted">No ingredient in the soup yet.</p>
        ) : (
          <table className="soup-table">
            <thead>
              <tr>
                <th scope="col">Ingredient</th>
                <th scope="col" className="num">Weight</th>
                <th scope="col" className="num">{status.spec.normalise ? 'Share' : 'Coefficient'}</th>
              </tr>
            </thead>
            <tbody>
              {models.map((x, i) => (
                <tr key={x.name}>
                  <td>{x.name}</td>
                  <td className="num" title={String(x.weight)} data-weight={x.weight}>
                    {formatWeight(x.weight)}
                  </td>
                  <td className="num">{shares ? (status.spec.normalise ? `${(shares[i] * 100).toFixed(1)} %` : shares[i]) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {provenance && (
          <p className="muted small" data-testid="search-provenance">
            This soup is {provenance.trialId} of the search: its weights, objective, baselines and Shapley values go into the output’s metadata (“souplab.search”).
          </p>
        )}
        {plan && (
          <dl className="facts merge-facts">
            <dt>Method</dt>
            <dd data-testid="merge-method">
              {linear ? `linear${status.spec.normalise ? ', normalised' : ''}` : `${method.title} (${method.name})${status.spec.base ? `, base model ${status.spec.base.name}` : ''}`}
            </dd>
            <dt>Tensors</dt>
            <dd>
              {formatInt(plan.steps.length)} ({formatInt(plan.steps.filter((s) => s.kind !== 'copy').length)} merged, {formatInt(plan.steps.filter((s) => s.kind === 'copy').length)} copied)
            </dd>
            <dt>Read</dt>
            <dd title={plan.inputBytesAtMost ? 'every pass the method may run; it stops iterating once it converges' : undefined}>
              {plan.inputBytesAtMost ? 'up to ' : ''}
              {formatBytes(plan.inputBytes)}
            </dd>
            <dt>Estimated output</dt>
            <dd data-testid="estimated-size">
              {formatBytes(outputBytes)}
              {gguf ? ` (GGUF ${ggufType.toUpperCase()})` : ''}
              {lora ? ' (the soup, held in memory while the adapter is extracted from it; the adapter is smaller)' : ''}
            </dd>
          </dl>
        )}
        {blocked && (
          <div className="blocked" role="status">
            <p className="error">Merge is not possible yet:</p>
            <ul className="blockers">
              {status.blockers.map((b) => (
                <li key={b}>{b}</li>
              ))}
            </ul>
            <button type="button" onClick={() => show('ingredients')}>← Ingredients</button>
          </div>
        )}
      </section>

      {status.extrapolation && !blocked && (
        <section className="card extrapolation" aria-labelledby="extrapolation-h">
          <h3 id="extrapolation-h" className="warning">
            This soup extrapolates
          </h3>
          <p role="alert" className="warning">
            {status.extrapolation}
          </p>
          <label>
            <input type="checkbox" checked={!unconfirmed} disabled={active} onChange={(e) => setConfirmed(e.currentTarget.checked ? status.extrapolation : undefined)} /> I mean these
            negative weights: merge anyway
          </label>
        </section>
      )}

      <section className="card" aria-labelledby="run-h">
        <h3 id="run-h">Merge and export</h3>
        <BackendChoice disabled={active} />
        {choice === 'webgpu' && <GpuNote method={method.name} />}
        <div className="row options">
          <label>
            Output dtype{' '}
            <select value={outDtype} disabled={active} onChange={(e) => setOutDtype(e.currentTarget.value as OutDtypeChoice)}>
              <option value="auto">Same as the inputs{inputDtypes.length > 0 ? ` (${inputDtypes.join(', ')})` : ''}</option>
              <option value="BF16">BF16</option>
              <option value="F16">F16</option>
              <option value="F32">F32</option>
            </select>
          </label>
        </div>
        <FormatChoice disabled={active} plan={plan} check={ggufCheck} loraBase={loraBase} />
        <fieldset className="outputs" disabled={active}>
          <legend>Export to</legend>
          {outputs.map((o) => (
            <label key={o.kind} className={o.ok ? '' : 'muted'}>
              <input type="radio" name="output" value={o.kind} checked={output.kind === o.kind} disabled={!o.ok} onChange={() => m.setOutput(o.kind)} />{' '}
              {placeOf(o).label} <span className="muted small">— {o.ok || (lora && o.kind === 'file') ? placeOf(o).hint : 'not available in this browser'}</span>
            </label>
          ))}
        </fieldset>
        <div className="row">
          <button type="button" className="primary" disabled={blocked || active || unconfirmed || ggufRefused || loraRefused} onClick={merge}>
            Merge
          </button>
          <button type="button" disabled={!active || m.phase === 'cancelling'} onClick={m.cancel}>
            Cancel
          </button>
        </div>
        {unconfirmed && !blocked && <p className="warning small">Confirm the negative weights above to merge.</p>}
        {m.pickerNote && !active && (
          <p role="alert" className="warning" data-testid="picker-note">
            {m.pickerNote}{' '}
            <button type="button" onClick={() => m.setOutput('opfs')}>
              Use browser storage
            </button>
          </p>
        )}
        <LiveProgressPanel active={active} atMost={plan?.inputBytesAtMost} />
        {m.phase === 'cancelling' && <p role="status">Cancelling; removing what was written…</p>}
        {(m.phase === 'failed' || m.phase === 'cancelled') && m.error && (
          <p role="alert" className={m.phase === 'failed' ? 'error' : 'warning'}>
            {m.error}
          </p>
        )}
        {m.phase === 'done' && m.result && <ResultPanel result={m.result} />}
      </section>

      <StoragePanel version={storageVersion} busy={active} />
    </div>
  );
}
