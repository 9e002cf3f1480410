import type { ReactNode } from 'react';
import { preflightSummary, type PreflightIssue, type PreflightReport } from '../../merge/preflight';

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

/** Errors; an ingredient that is another model gets one lead line, its per-tensor problems folded away. */
function Errors({ report }: { report: PreflightReport }) {
  const { lead, details, rest } = preflightSummary(report);
  if (lead.length === 0) return <IssueList issues={report.errors} className="error" label="Errors" />;
  return (
    <div className="issues error">
      <h4>Errors ({report.errors.length})</h4>
      <ul>
        {lead.map((e) => (
          <li key={e.message} className="lead">
            <strong>{e.message}</strong>
          </li>
        ))}
      </ul>
      {details.length > 0 && (
        <details>
          <summary>
            {details.length} per-tensor problem{details.length > 1 ? 's' : ''} that follow from {lead.length > 1 ? 'these' : 'this'}
          </summary>
          <IssueList issues={details} className="error" label="Per tensor" />
        </details>
      )}
      <IssueList issues={rest} className="error" label="Other errors" />
    </div>
  );
}

/** The pre-flight report across the ingredients: errors block Merge, warnings and notes do not. */
export function PreflightPanel({ report, brokenCount, children }: { report: PreflightReport | null; brokenCount: number; children?: ReactNode }) {
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
      {children}
      <Errors report={report} />
      <IssueList issues={report.warnings} className="warning" label="Warnings" />
      <IssueList issues={report.infos} className="muted" label="Notes" />
    </section>
  );
}
