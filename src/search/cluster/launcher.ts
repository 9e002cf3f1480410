/**
 * Where a point's job runs: a shell on this machine (--jobs N at once) or a Slurm job (sbatch). SoupLab
 * schedules nothing itself; a launcher only starts a job script, says when it has ended, and cancels
 * the jobs it started. The adapters live in src/node (localLauncher, slurmLauncher).
 */

export interface JobSpec {
  /** A short name for the scheduler's queue ("souplab-<point>"). */
  name: string;
  /** The job script (sh) to run. */
  script: string;
  /** Where the job's stdout and stderr go. */
  log: string;
  /** The folder the job starts in. */
  cwd: string;
}

export interface JobEnd {
  /** The scheduler's word for how it ended: COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, EXITED… */
  state: string;
  /** The job script's exit status, when known. */
  exitCode: number | null;
}

export interface Launcher {
  /** "Slurm (sbatch --partition=gpu --gres=gpu:8)", "this machine". */
  readonly description: string;
  /** Which launcher wrote a job id (a resumed search re-attaches only to its own kind). */
  readonly kind: 'local' | 'slurm';
  /** Throws one clear sentence when the launcher cannot work here (sbatch missing). */
  check(): Promise<void>;
  /** Starts the job; returns its id. */
  submit(job: JobSpec): Promise<string>;
  /** Resolves when the job has ended. */
  wait(id: string, signal?: AbortSignal): Promise<JobEnd>;
  /** True while the job is queued or running (a resumed search waits for it instead of submitting again). */
  alive(id: string): Promise<boolean>;
  /** Cancels jobs this search started (scancel of those ids only). */
  cancel(ids: string[]): Promise<void>;
}
