import type { PreflightIssue, PreflightReport } from '../../merge/preflight';

const SHOWN = 12;

function IssueList({ issues, className, label }: { issues: PreflightIssue[]; className: string; label: string }) {
  if (issues.length === 0) return null;
  return (
    <div className={`issues ${className}`}>
      <h4>
        {label} ({issues.length})
      </h4>
      <ul>
        {issues.slice(0, SHOWN).map((i, k) => (
          <li key={k}>{i.message}</li>
        ))}
        {issues.length > SHOWN && <li>… and {issues.length - SHOWN} more</li>}
      </ul>
    </div>
  );
}

/** The pre-flight report across the ingredients: errors block Merge, warnings and notes do not. */
export function PreflightPanel({ report, brokenCount }: { report: PreflightReport | null; brokenCount: number }) {
  if (!report) return null;
  const clean = report.errors.length === 0 && brokenCount === 0;
  return (
    <section className="card preflight" aria-labelledby="preflight-h">
      <h3 id="preflight-h">Pre-flight check</h3>
      <p className={clean ? 'ok' : 'error'} role="status">
        {clean
          ? `Headers fit together: every ingredient matches ${report.reference} tensor by tensor.`
          : report.errors.length > 0
            ? `${report.errors.length} problem${report.errors.length > 1 ? 's' : ''} block the merge (compared with ${report.reference}).`
            : 'Unreadable checkpoints block the merge; remove them.'}
      </p>
      <IssueList issues={report.errors} className="error" label="Errors" />
      <IssueList issues={report.warnings} className="warning" label="Warnings" />
      <IssueList issues={report.infos} className="muted" label="Notes" />
    </section>
  );
}
