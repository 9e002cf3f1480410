import { useEffect, useState } from 'react';
import { entriesOf } from '../ingredients/fsAccess';
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
  const [links, setLinks] = useState<{ name: string; url: string; size: number }[]>([]);
  useEffect(() => {
    let urls: string[] = [];
    let live = true;
    void (async () => {
      const out: { name: string; url: string; size: number }[] = [];
      for (const [name, h] of await entriesOf(dir)) {
        if (h.kind !== 'file' || name.endsWith('.crswap')) continue;
        const file = await (h as FileSystemFileHandle).getFile();
        out.push({ name, url: URL.createObjectURL(file), size: file.size });
      }
      out.sort((a, b) => a.name.localeCompare(b.name));
      urls = out.map((l) => l.url);
      if (live) setLinks(out);
      else urls.forEach((u) => URL.revokeObjectURL(u));
    })();
    return () => {
      live = false;
      urls.forEach((u) => URL.revokeObjectURL(u));
    };
  }, [dir]);
  return (
    <div>
      <p className="muted">Kept in this browser's private storage (OPFS). Download each file:</p>
      <ul className="downloads">
        {links.map((l) => (
          <li key={l.name}>
            <a href={l.url} download={l.name}>
              {l.name}
            </a>{' '}
            <span className="muted">{formatBytes(l.size)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
