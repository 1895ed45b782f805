/**
 * The unit of work: one grant, one local day. Its job id is derived from both, so the
 * scheduler's ticks, restarts, webhooks and backfills can never queue the same day twice.
 */

export const RUNS_QUEUE = "runs";
export const RUN_JOB_NAME = "nightly-run";

export interface RunJobData {
  grantId: string;
  /** Local date (YYYY-MM-DD) in the grant's zone whose meetings get reminders. */
  day: string;
  /** `rerun`: the day ran already and its meetings changed since (src/runs/rerun.ts). */
  source: "scheduler" | "backfill" | "webhook" | "connect" | "rerun" | "import";
  /** Times the job was put back because the grant's budget was spent. */
  delays?: number;
  /**
   * 429s without `Retry-After` in a row with nothing sent between them: the exponent of the
   * back-off, so a mailbox that takes a little each time is not waited on ever longer.
   */
  refusedInARow?: number;
}

export interface RunResult {
  status: "completed" | "skipped" | "incomplete";
  reason?: string;
  meetings: number;
  sent: number;
  failed: number;
  /** Reminders that may have gone out and cannot be checked: never sent again. */
  uncertain?: number;
  skipped: Partial<Record<string, number>>;
  /** The zone the run's day was read in, and where that zone came from (Bull Board shows both). */
  zone?: string;
  zoneSource?: string;
}

/** Where a job is when it asks: running its attempt, or told (the worker's "failed" event) that it failed. */
export type AttemptPhase = "running" | "failed";

/**
 * Attempts a job has after the current one. BullMQ counts an attempt in `attemptsMade` once
 * it has failed: a processor still inside its attempt must count it itself, a "failed"
 * handler finds it counted.
 */
export function attemptsLeft(job: { opts: { attempts?: number }; attemptsMade: number }, phase: AttemptPhase): number {
  return (job.opts.attempts ?? 1) - job.attemptsMade - (phase === "running" ? 1 : 0);
}

/** No retry follows the current attempt if it fails. */
export function isLastAttempt(
  job: { opts: { attempts?: number }; attemptsMade: number },
  phase: AttemptPhase,
): boolean {
  return attemptsLeft(job, phase) <= 0;
}

const SAFE = /^[A-Za-z0-9._-]+$/;

/** BullMQ job ids may not contain ':'; Nylas grant ids are UUID-like, but be strict. */
export function runJobId(grantId: string, day: string): string {
  const g = SAFE.test(grantId) ? grantId : encodeURIComponent(grantId).replace(/%/g, "_");
  return `run_${g}_${day}`;
}
