import type { Db } from "../db/client.js";
import { candidateDays, RUN_STATUSES, summarize } from "./day-summary.js";
import type { DaySummary, GrantRow, RunRow } from "./day-summary.js";
import { GRANTS_BY_ZONE, RUNS_BY_ZONE_DAY } from "./sql.js";

/**
 * What the metrics need from Postgres, in two grouped statements run at scrape time (never
 * by the worker). `grants` is read whole (one row per grant, grouped by zone and send hour);
 * `runs` once, only for the four dates that can be some zone's current or next day.
 */
export async function readDaySummary(db: Db, now: Date): Promise<DaySummary> {
  const { from, to } = candidateDays(now);
  const [grants, runs] = await Promise.all([
    db.$queryRawUnsafe<GrantRow[]>(GRANTS_BY_ZONE),
    db.$queryRawUnsafe<RunRow[]>(RUNS_BY_ZONE_DAY, RUN_STATUSES, from, to),
  ]);
  return summarize(grants, runs, now);
}
