import type { Db } from "../db/client.js";
import { whyGrantCannotRun } from "../grants/status.js";
import { reviveRuns, type RunsQueue } from "./queue.js";
import type { RunJobData } from "./job.js";
import { RunStore } from "./store.js";
import { clockNow } from "../time/clock.js";
import { isDueToSend } from "../time/window.js";

/**
 * Puts (grant, day) runs back in the queue, as the scheduler would: the Run rows become
 * `queued` (created when missing) and the jobs are added under their usual ids, replacing a
 * completed or failed job of the same id. A job still waiting, delayed or active is left as
 * it is. The ledger makes a re-run send only what is still missing.
 */
export async function requeueDays(
  db: Db,
  queue: RunsQueue,
  grant: { id: string; timeZone: string },
  days: string[],
  source: RunJobData["source"],
): Promise<number> {
  if (days.length === 0) return 0;
  await new RunStore(db).queue(grant, days);
  return reviveRuns(
    queue,
    days.map((day) => ({ grantId: grant.id, day })),
    source,
  );
}

export interface UndoneDay {
  day?: string;
  enqueued: boolean;
  reason: string;
}

/**
 * After a grant becomes valid again (webhook, re-auth through /connect): if its local send
 * hour has passed and the day it covers has no completed run, queue that day now instead of
 * waiting for the next scheduler tick.
 */
export async function enqueueUndoneDay(
  db: Db,
  queue: RunsQueue,
  grantId: string,
  source: RunJobData["source"],
  now: Date = clockNow(),
): Promise<UndoneDay> {
  const grant = await db.grant.findUnique({
    where: { id: grantId },
    select: { id: true, timeZone: true, sendHour: true, status: true, enabled: true, provider: true },
  });
  if (!grant) return { enqueued: false, reason: "grant not in the database" };
  const blocked = whyGrantCannotRun(grant);
  if (blocked !== undefined) return { enqueued: false, reason: `grant ${blocked}` };
  let due: { due: boolean; day: string };
  try {
    due = isDueToSend(grant.timeZone, grant.sendHour, now);
  } catch (err) {
    return { enqueued: false, reason: `bad time zone: ${(err as Error).message}` };
  }
  if (!due.due) return { day: due.day, enqueued: false, reason: "send hour not reached yet" };
  const run = await db.run.findUnique({ where: { grantId_day: { grantId, day: due.day } }, select: { status: true } });
  if (run?.status === "completed") return { day: due.day, enqueued: false, reason: "day already completed" };
  const added = await requeueDays(db, queue, grant, [due.day], source);
  return { day: due.day, enqueued: added > 0, reason: added > 0 ? "queued" : "already in the queue" };
}
