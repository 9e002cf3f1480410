import { useEffect, useMemo, useState } from 'react';
import { formatBytes } from '../ingredients/format';
import { deleteStoredSoup, listStoredSoups, type StoredFile, type StoredSoup } from './browserStorage';

/** Download links for stored files, named after their soup; the object URLs live as long as the links. */
export function DownloadLinks({ files }: { files: StoredFile[] }) {
  const urls = useMemo(() => files.map((f) => URL.createObjectURL(f.file)), [files]);
  useEffect(() => () => urls.forEach((u) => URL.revokeObjectURL(u)), [urls]);
  return (
    <ul className="downloads">
      {files.map((f, i) => (
        <li key={f.name}>
          <a href={urls[i]} download={f.downloadName}>
            {f.downloadName}
          </a>{' '}
          <span className="muted">{formatBytes(f.size)}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * What the studio keeps in this browser's storage: each soup with its size, downloads and Delete, and
 * how much of the site's quota is used. `version` changes when a merge adds a soup.
 */
export function StoragePanel({ version, busy }: { version: number; busy: boolean }) {
  const [soups, setSoups] = useState<StoredSoup[] | null>(null);
  const [estimate, setEstimate] = useState<StorageEstimate | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Bumped after a deletion, so the list is read again. */
  const [deletions, setDeletions] = useState(0);
  useEffect(() => {
    let live = true;
    void (async () => {
      const soups = await listStoredSoups();
      const estimate = (await navigator.storage.estimate?.()) ?? null;
      return { soups, estimate };
    })().then(
      (r) => {
        if (!live) return;
        setSoups(r.soups);
        setEstimate(r.estimate);
      },
      (e: unknown) => {
        if (live) setError(`Browser storage cannot be read: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    return () => {
      live = false;
    };
  }, [version, deletions]);
  const remove = async (folder: string) => {
    if (!window.confirm(`Delete ${folder} from this browser's storage? Download it first if you need it.`)) return;
    try {
      await deleteStoredSoup(folder);
    } catch (e) {
      setError(`${folder} could not be deleted: ${e instanceof Error ? e.message : String(e)}`);
    }
    setDeletions((n) => n + 1);
  };
  if (!soups) return null;
  const total = soups.reduce((s, x) => s + x.bytes, 0);
  return (
    <section className="card storage" aria-labelledby="storage-h">
      <h3 id="storage-h">In browser storage</h3>
      <p className="muted small" data-testid="storage-usage">
        {soups.length === 0 ? 'No soups are stored in this browser.' : `${soups.length} soup${soups.length > 1 ? 's' : ''}, ${formatBytes(total)}.`}
        {estimate?.quota !== undefined && estimate.usage !== undefined && ` This site uses ${formatBytes(estimate.usage)} of the ${formatBytes(estimate.quota)} the browser allows it.`}
      </p>
      {error && <p role="alert" className="error">{error}</p>}
      {soups.length > 0 && (
        <ul className="stored-soups">
          {soups.map((s) => (
            <li key={s.folder} aria-label={s.folder}>
              <div className="row">
                <strong>{s.folder}</strong> <span className="muted">{formatBytes(s.bytes)}</span>
                <button type="button" disabled={busy} onClick={() => void remove(s.folder)} aria-label={`Delete ${s.folder}`}>
                  Delete
                </button>
              </div>
              <DownloadLinks files={s.files} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
