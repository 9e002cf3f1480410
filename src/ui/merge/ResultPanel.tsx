import { useEffect, useState } from 'react';
import { storedFiles, type StoredFile } from './browserStorage';
import { DownloadLinks } from './StoragePanel';
import { formatBytes, formatInt } from '../ingredients/format';
import type { MergeDone } from './protocol';

/** What was written and checked; download links for an output in the browser's private storage. */
export function ResultPanel({ result }: { result: MergeDone }) {
  const n = result.modelFiles.length;
  if (result.gguf) return <GgufResult result={result} gguf={result.gguf} />;
  if (result.lora) return <LoraResult result={result} lora={result.lora} />;
  return (
    <div className="card result" role="status">
      <p className={result.verified ? 'ok' : 'warning'}>
        <strong>
          {result.verified
            ? `Verified: ${n} file${n > 1 ? 's' : ''}, ${formatInt(result.tensors)} tensors`
            : `Written, not verified: ${n} file${n > 1 ? 's' : ''}, ${formatInt(result.tensors)} tensors`}
        </strong>{' '}
        — {result.verified ? 'the headers were re-read and match the plan. ' : ''}
        {formatInt(result.tensorsMerged)} merged, {formatInt(result.tensors - result.tensorsMerged)} copied; {formatBytes(result.bytesWritten)} in{' '}
        {result.seconds.toFixed(1)} s on {result.backend}.
      </p>
      <p>
        Written to <strong>{result.outputName}</strong>
        {result.file ? '' : `: ${[...result.modelFiles, ...result.otherFiles].join(', ')}`}
      </p>
      {result.outputKind === 'opfs' && result.dir && <Downloads dir={result.dir} />}
    </div>
  );
}

/** A GGUF export: one file, its type, what was checked; the Q8_0 fallbacks and notes. */
function GgufResult({ result, gguf }: { result: MergeDone; gguf: NonNullable<MergeDone['gguf']> }) {
  const fallbacks = gguf.q8Fallbacks.length;
  return (
    <div className="card result" role="status">
      <p className={result.verified ? 'ok' : 'warning'}>
        <strong>
          {result.verified ? 'Verified' : 'Written, not verified'}: GGUF {gguf.type.toUpperCase()}, {formatInt(result.tensors)} tensors
        </strong>{' '}
        — {result.verified ? 'the header was re-read and matches the plan. ' : ''}
        {gguf.architecture} for llama.cpp; {formatInt(result.tensorsMerged)} tensors merged; {formatBytes(result.bytesWritten)} in {result.seconds.toFixed(1)} s on {result.backend}.
      </p>
      {fallbacks > 0 && (
        <p className="muted">
          {fallbacks} tensor{fallbacks > 1 ? 's' : ''} kept F16: {fallbacks > 1 ? 'their' : 'its'} rows do not split into Q8_0 blocks of 32 (as llama.cpp’s converter does).
        </p>
      )}
      {gguf.notes.map((note) => (
        <p key={note} className="warning">
          Note: {note}.
        </p>
      ))}
      <p>
        Written to <strong>{result.outputName}</strong>
        {result.file ? '' : `: ${result.modelFiles.join(', ')}`}
      </p>
      {result.outputKind === 'opfs' && result.dir && <Downloads dir={result.dir} />}
    </div>
  );
}

/** A LoRA adapter export: its rank and base, each changed tensor with the energy its factors keep. */
function LoraResult({ result, lora }: { result: MergeDone; lora: NonNullable<MergeDone['lora']> }) {
  const factored = lora.tensors.filter((t) => t.kind === 'lora');
  const whole = lora.tensors.filter((t) => t.kind === 'full');
  const unchanged = lora.tensors.length - factored.length - whole.length;
  return (
    <div className="card result" role="status">
      <p className={result.verified ? 'ok' : 'warning'}>
        <strong>
          {result.verified ? 'Verified' : 'Written, not verified'}: LoRA adapter, rank {lora.rank}, for {lora.base}
        </strong>{' '}
        — {result.verified ? 'the adapter was re-read as a merge reads it. ' : ''}
        {formatInt(factored.length)} tensors as LoRA factors, {formatInt(whole.length)} whole (modules_to_save), {formatInt(unchanged)} unchanged; {result.seconds.toFixed(1)} s on{' '}
        {result.backend}.
      </p>
      {(factored.length > 0 || whole.length > 0) && (
        <table className="lora-energy" data-testid="lora-energy">
          <caption className="muted small">Energy kept per tensor: the share of the difference’s squared norm the rank-{lora.rank} factors hold</caption>
          <thead>
            <tr>
              <th scope="col">Tensor</th>
              <th scope="col">Shape</th>
              <th scope="col" className="num">Energy kept</th>
            </tr>
          </thead>
          <tbody>
            {[...factored, ...whole].map((t) => (
              <tr key={t.name}>
                <td>{t.name}</td>
                <td className="num">[{t.shape.join(', ')}]</td>
                <td className="num">{t.kind === 'lora' ? `${(100 * t.keptEnergy!).toFixed(2)} %` : 'whole'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        Written to <strong>{result.outputName}</strong>: {result.modelFiles.join(', ')}
      </p>
      {result.outputKind === 'opfs' && result.dir && <Downloads dir={result.dir} />}
    </div>
  );
}

function Downloads({ dir }: { dir: FileSystemDirectoryHandle }) {
  const [files, setFiles] = useState<StoredFile[]>([]);
  useEffect(() => {
    let live = true;
    void storedFiles(dir.name, dir).then((f) => {
      if (live) setFiles(f);
    });
    return () => {
      live = false;
    };
  }, [dir]);
  return (
    <div>
      <p className="muted">Kept in this browser's private storage (OPFS). Download each file:</p>
      <DownloadLinks files={files} />
    </div>
  );
}
