import { useEffect, useState } from 'react';
import { storedFiles, type StoredFile } from './browserStorage';
import { DownloadLinks } from './StoragePanel';
import { formatBytes, formatInt } from '../ingredients/format';
import type { MergeDone } from './protocol';

/** What was written and checked; download links for an output in the browser's private storage. */
export function ResultPanel({ result }: { result: MergeDone }) {
  const n = result.modelFiles.length;
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
