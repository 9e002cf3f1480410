import { useRef, type KeyboardEvent } from 'react';
import { useNavigationStore, VIEW_LABELS, VIEWS } from '../state/navigationStore';

/** WAI-ARIA tabs: arrow keys move between views, Home/End jump to the ends. */
export function ViewTabs() {
  const view = useNavigationStore((s) => s.view);
  const show = useNavigationStore((s) => s.show);
  const refs = useRef<(HTMLButtonElement | null)[]>([]);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    const i = VIEWS.indexOf(view);
    const next =
      e.key === 'ArrowRight' ? (i + 1) % VIEWS.length
      : e.key === 'ArrowLeft' ? (i - 1 + VIEWS.length) % VIEWS.length
      : e.key === 'Home' ? 0
      : e.key === 'End' ? VIEWS.length - 1
      : -1;
    if (next < 0) return;
    e.preventDefault();
    show(VIEWS[next]);
    refs.current[next]?.focus();
  }

  return (
    <div role="tablist" aria-label="Views" className="view-tabs" onKeyDown={onKeyDown}>
      {VIEWS.map((v, i) => (
        <button
          key={v}
          ref={(el) => {
            refs.current[i] = el;
          }}
          role="tab"
          id={`tab-${v}`}
          aria-selected={view === v}
          aria-controls={`panel-${v}`}
          tabIndex={view === v ? 0 : -1}
          onClick={() => show(v)}
        >
          {VIEW_LABELS[v]}
        </button>
      ))}
    </div>
  );
}
