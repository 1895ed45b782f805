import { Prisma, type Db } from "../db/client.js";
import { candidateDays, RUN_STATUSES, SKIP_REASONS, summarize } from "./day-summary.js";
import type { DaySummary, GrantRow, RunRow } from "./day-summary.js";

/** Sum of one reason of `skipped_by_reason` over a group (0 when absent or not a number). */
const reasonSum = (k: string) =>
  Prisma.sql`${k}::text, coalesce(sum(CASE WHEN jsonb_typeof(skipped_by_reason -> ${k}) = 'number'
                                     THEN (skipped_by_reason ->> ${k})::numeric END), 0)::int`;

/**
 * What the metrics need from Postgres, in two grouped statements run at scrape time (never
 * by the worker). `grants` is read whole (one row per grant, grouped by zone and send hour);
 * `runs` once, only for the four dates that can be some zone's current or next day. Listing
 * every status lets the (status, day) index serve the day range instead of a scan of all
 * history; skip reasons are summed in the same pass, one column per known reason.
 */
export async function readDaySummary(db: Db, now: Date): Promise<DaySummary> {
  const { from, to } = candidateDays(now);
  const [grants, runs] = await Promise.all([
    db.$queryRaw<GrantRow[]>`
      SELECT time_zone AS zone, send_hour AS hour, status::text AS status, enabled, count(*)::int AS n
      FROM grants GROUP BY 1, 2, 3, 4`,
    db.$queryRaw<RunRow[]>`
      SELECT time_zone AS zone, day, status::text AS status, count(*)::int AS runs,
             coalesce(sum(reminders_sent), 0)::int AS sent, coalesce(sum(reminders_failed), 0)::int AS failed,
             coalesce(sum(reminders_skipped), 0)::int AS skipped,
             jsonb_build_object(${Prisma.join(SKIP_REASONS.map(reasonSum))}) AS reasons
      FROM runs WHERE status = ANY(${RUN_STATUSES as string[]}::"RunStatus"[]) AND day BETWEEN ${from} AND ${to}
      GROUP BY 1, 2, 3`,
  ]);
  return summarize(grants, runs, now);
}
