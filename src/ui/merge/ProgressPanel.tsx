import { formatBytes, formatDuration, formatInt } from '../ingredients/format';
import type { MergeProgress } from '../../merge/runMerge';
import { useMergeStore } from '../state/mergeStore';

/**
 * Tensors and bytes done, speed and time left, as a progressbar people and screen readers can read.
 * `atMost`: the byte counts are an upper bound (a method that stops iterating once it converges, its
 * passes counted as if it did not): no speed in MB/s then, which would overstate what was read.
 */
export function ProgressPanel({ progress, active, atMost = false }: { progress: MergeProgress | null; active: boolean; atMost?: boolean }) {
  const total = progress?.bytesTotal ?? 0;
  const done = progress?.bytesDone ?? 0;
  const percent = total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : 0;
  const text = progress
    ? `${formatInt(progress.tensorsDone)} of ${formatInt(progress.tensorsTotal)} tensors, ${formatBytes(done)} of ${atMost ? 'up to ' : ''}${formatBytes(total)}`
    : active
      ? 'Starting…'
      : 'Not started';
  return (
    <div className="progress">
      <div
        role="progressbar"
        aria-label="Merge progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent} %: ${text}`}
        className="progress-track"
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-text num">
        <span>{text}</span>
        {progress && !atMost && progress.bytesPerSecond > 0 && <span>{formatBytes(progress.bytesPerSecond)}/s</span>}
        {progress && active && <span>ETA {progress.etaSeconds === undefined ? '--:--' : formatDuration(progress.etaSeconds)}</span>}
        {progress && active && progress.tensor && <span className="muted tensor-name">{progress.tensor}</span>}
      </p>
    </div>
  );
}

/** The merge's progress as the store holds it: only this re-renders on each update. */
export function LiveProgressPanel({ active, atMost }: { active: boolean; atMost?: boolean }) {
  const progress = useMergeStore((s) => s.progress);
  return <ProgressPanel progress={progress} active={active} atMost={atMost} />;
}
