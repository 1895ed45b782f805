/**
 * How one attempt of a BullMQ job ended, for the duration histogram. Pure.
 * - delayed: the job handed its slot back to wait (a spent rate budget, a 429's Retry-After);
 * - retried: it failed and BullMQ will try again; failed: it failed for good.
 */
export type JobOutcome = "completed" | "skipped" | "delayed" | "retried" | "failed";

/** BullMQ's errors that end an attempt without failing the job. */
const NOT_FAILURES = new Set(["DelayedError", "RateLimitError", "WaitingChildrenError", "WaitingError"]);

export function resultOutcome(result: unknown): JobOutcome {
  const status = (result as { status?: unknown } | null | undefined)?.status;
  return status === "skipped" ? "skipped" : "completed";
}

/** `attemptsMade` counts the attempts before this one, as BullMQ reports it inside the processor. */
export function errorOutcome(err: unknown, attemptsMade: number, attempts: number | undefined): JobOutcome {
  const name = (err as { name?: unknown } | null | undefined)?.name;
  if (typeof name === "string" && NOT_FAILURES.has(name)) return "delayed";
  if (name === "UnrecoverableError") return "failed";
  return attemptsMade + 1 >= (attempts ?? 1) ? "failed" : "retried";
}
