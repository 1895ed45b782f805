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
  source: "scheduler" | "backfill" | "webhook" | "connect";
  /** Times the job was put back because the grant's budget was spent. */
  delays?: number;
}

export interface RunResult {
  status: "completed" | "skipped" | "incomplete";
  reason?: string;
  meetings: number;
  sent: number;
  failed: number;
  skipped: Partial<Record<string, number>>;
}

const SAFE = /^[A-Za-z0-9._-]+$/;

/** BullMQ job ids may not contain ':'; Nylas grant ids are UUID-like, but be strict. */
export function runJobId(grantId: string, day: string): string {
  const g = SAFE.test(grantId) ? grantId : encodeURIComponent(grantId).replace(/%/g, "_");
  return `run_${g}_${day}`;
}
