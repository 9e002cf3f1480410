import { useSoupStore } from '../state/soupStore';

export function Notices() {
  const notices = useSoupStore((s) => s.notices);
  const dismiss = useSoupStore((s) => s.dismissNotice);
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-live="polite">
      {notices.map((n, i) => (
        <li key={i} className={`notice ${n.kind === 'info' ? '' : n.kind}`} role={n.kind === 'error' ? 'alert' : undefined}>
          <span>{n.text}</span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(i)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
