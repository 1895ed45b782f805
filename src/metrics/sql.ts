import { SKIP_REASONS } from "./day-summary.js";

/**
 * The statements /metrics runs at scrape time (never the worker), read by src/metrics/db-read.ts.
 * Each is a constant text with bind parameters ($1, …, listed above it).
 */

/** Grants by zone, send hour, status, whether they are enabled and provider: one row per group. */
export const GRANTS_BY_ZONE = `
  SELECT time_zone AS zone, send_hour AS hour, status::text AS status, enabled, provider, count(*)::int AS n
  FROM grants GROUP BY 1, 2, 3, 4, 5`;

/** Sum of one reason of `skipped_by_reason` over a group (0 when absent or not a number). */
function reasonSum(reason: string): string {
  // The reasons are this module's own constants; the check keeps them safe to write as literals.
  if (!/^[a-z_]+$/.test(reason)) throw new Error(`skip reason ${JSON.stringify(reason)} cannot be a SQL literal`);
  return `'${reason}'::text, coalesce(sum(CASE WHEN jsonb_typeof(skipped_by_reason -> '${reason}') = 'number'
                                     THEN (skipped_by_reason ->> '${reason}')::numeric END), 0)::int`;
}

/**
 * Runs by zone, day and status, over a range of days, with their reminders and one column
 * per known skip reason summed in the same pass. Listing every status lets the (status, day)
 * index serve the day range instead of a scan of all history.
 * $1 every run status ("RunStatus"[]); $2, $3 the first and last day (text).
 */
export const RUNS_BY_ZONE_DAY = `
  SELECT time_zone AS zone, day, status::text AS status, count(*)::int AS runs,
         coalesce(sum(reminders_sent), 0)::int AS sent, coalesce(sum(reminders_failed), 0)::int AS failed,
         coalesce(sum(reminders_skipped), 0)::int AS skipped,
         jsonb_build_object(${SKIP_REASONS.map(reasonSum).join(", ")}) AS reasons
  FROM runs WHERE status = ANY($1::"RunStatus"[]) AND day BETWEEN $2 AND $3
  GROUP BY 1, 2, 3`;
