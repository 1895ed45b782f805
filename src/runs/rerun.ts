import type { Db } from "../db/client.js";
import { whyGrantCannotRun } from "../grants/status.js";
import { clockNow } from "../time/clock.js";
import { localDayWindow, nextLocalDay } from "../time/window.js";
import { RUN_JOB_NAME, runJobId } from "./job.js";
import type { RunsQueue } from "./queue.js";
import { RunStore, type RunKey } from "./store.js";

/**
 * Re-runs of a day that already ran, because its meetings changed since (a webhook's
 * `event.*`, or the second sweep). The job goes under the run's own id, delayed by the
 * debounce and deduplicated per grant and day (BullMQ `deduplication`), so a burst of changes
 * gives one re-run; the ledger makes the re-run send only what is new (src/reminders/changes.ts).
 */

/** The deduplication id of a day's re-runs (BullMQ ids may not contain ':'). */
export function rerunDedupId(run: RunKey): string {
  return `re${runJobId(run.grantId, run.day)}`;
}

/**
 * What became of a re-run's job: `added`; `pending` (the day's job is still to start: it will
 * read the change); `running` (the day's job is active: it may have read the day already, and
 * its id cannot be reused until it ends).
 */
export type RerunJob = "added" | "pending" | "running";

/**
 * Adds the day's re-run job unless the day's job is still waiting, delayed or running; a
 * finished job of the same id makes way.
 */
export async function addRerunJob(queue: RunsQueue, run: RunKey, delayMs: number): Promise<RerunJob> {
  const id = runJobId(run.grantId, run.day);
  const state = await queue.getJobState(id);
  if (state === "active") return "running";
  if (state !== "completed" && state !== "failed" && state !== "unknown") return "pending";
  if (state !== "unknown") await queue.remove(id);
  await queue.add(
    RUN_JOB_NAME,
    { grantId: run.grantId, day: run.day, source: "rerun" },
    { jobId: id, delay: delayMs, deduplication: { id: rerunDedupId(run), ttl: delayMs } },
  );
  return "added";
}

export interface RerunOutcome {
  day?: string;
  queued: boolean;
  /** The day's job is active though its run is completed (it is ending): try again shortly. */
  running?: boolean;
  reason: string;
}

/**
 * A meeting of the grant changed: when its run for tomorrow (in its zone, by the calendar
 * clock) is completed and that day has not begun, the day is re-run after `debounceMs`. A run
 * not settled yet needs nothing: it will read the change itself. The job is added before the
 * run is marked (the debounce keeps the job from starting first), so a failure half-way is
 * repaired by trying again.
 */
export async function rerunNextDay(
  db: Db,
  queue: RunsQueue,
  grantId: string,
  debounceMs: number,
  now: Date = clockNow(),
): Promise<RerunOutcome> {
  const grant = await db.grant.findUnique({
    where: { id: grantId },
    select: { id: true, timeZone: true, status: true, enabled: true, provider: true },
  });
  if (!grant) return { queued: false, reason: "grant not in the database" };
  const blocked = whyGrantCannotRun(grant);
  if (blocked !== undefined) return { queued: false, reason: `grant ${blocked}` };
  let day: string;
  try {
    day = nextLocalDay(grant.timeZone, now);
    if (localDayWindow(grant.timeZone, day).start * 1000 <= now.getTime())
      return { day, queued: false, reason: "the day has begun" };
  } catch (err) {
    return { queued: false, reason: `bad time zone: ${(err as Error).message}` };
  }
  const run = await db.run.findUnique({ where: { grantId_day: { grantId, day } }, select: { status: true } });
  if (run?.status !== "completed")
    return { day, queued: false, reason: `run not settled (${run?.status ?? "none"}): it will read the change` };
  const job = await addRerunJob(queue, { grantId, day }, debounceMs);
  // Marked only when a job will run: a run marked queued with no job to run it would stay so.
  if (job === "running") return { day, queued: false, running: true, reason: "the day's job is still running" };
  await new RunStore(db).rerun({ grantId, day });
  return { day, queued: job === "added", reason: job === "added" ? "re-run queued" : "re-run already in the queue" };
}
