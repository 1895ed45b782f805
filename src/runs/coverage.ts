/**
 * Zone changes leave no gap: the rules that make a grant's consecutive runs cover the
 * timeline without a hole when its zone changes. Pure.
 *
 * Runs are keyed by (grant, local day label), and a label run in one zone covers a different
 * span of time than the same label in another. Two rules together keep every meeting covered:
 *
 * 1. Reopen (the zone writer, and a run that finishes after its grant's zone changed): a
 *    completed run of label L is reopened when L's end in the new zone lies past the grant's
 *    coverage end C (the latest window end of its completed runs, reopened ones included:
 *    what they covered stays covered) and has not passed yet. It
 *    is then run again when it is due in the new zone, on L's eve there, before the meetings
 *    it had not covered.
 * 2. Reach back (every run): a run starts at C instead of its local midnight when C is earlier
 *    than that midnight, by at most MAX_REACH_BACK_S, and never earlier than the moment it
 *    runs (a meeting that has started gets no reminder). The ledger (grant, event, start)
 *    absorbs any overlap, so nothing is sent twice.
 *
 * The cases, Tokyo (UTC+9) and Los Angeles (UTC−8/−7) standing for any pair:
 * - East → west (Tokyo → LA after Tokyo ran D): Tokyo's D ended at D 15:00 UTC, LA's D ends
 *   at D+1 08:00 UTC, later, so D is reopened; it runs on LA's eve of D and reaches back to C,
 *   covering the 17 hours Tokyo's D did not. Had Tokyo run D+1 too, C is D+1 15:00 UTC: LA's D
 *   is covered already and only D+1 is reopened.
 * - West → east (LA → Tokyo after LA ran D): Tokyo's D ends before C, so nothing is reopened;
 *   Tokyo's D+1 starts at its midnight, before C: the overlap is absorbed by the ledger.
 * - Across midnight: a change while it is already day L in the new zone reopens L when L's
 *   end there is past C; L's eve has passed, so L is due at once (the scheduler runs reopened
 *   days that are due, not only the next one) and its reach back starts now.
 * - Around DST: every window is `localDayWindow` of its own zone (23 or 25 hours), and C is
 *   an instant, so a DST change on either side moves ends, never the comparison.
 * - A zone change while a run is in flight: the run keeps the zone it started with, and its
 *   finish reads the grant's zone under a share lock (src/runs/sql.ts FINISH_RUNS): the zone
 *   writer either committed before (the finish sees the new zone and reopens by rule 1) or
 *   waits for the finish and then finds the run completed (and reopens it itself).
 * - A grant that was off for a week: C is a week old, beyond MAX_REACH_BACK_S, so the run
 *   starts at its midnight as it always did. A same-zone day that never completed (a failed
 *   run) is within reach: the next run also covers that day's meetings that have not started.
 */
import { addDays, isDueToSend, localDayWindow } from "../time/window.js";

/**
 * How far before its local midnight a run may start: two zones' midnights of the same label
 * are at most 26 hours apart (UTC+14 and UTC−12), plus an hour for a DST change between them.
 */
export const MAX_REACH_BACK_S = 27 * 3600;

export interface Span {
  /** Unix seconds, inclusive. */
  start: number;
  /** Unix seconds, exclusive. */
  end: number;
}

/**
 * The span a run reads: its local day, starting earlier at the grant's coverage end (Unix
 * seconds; null when no completed run is near) when that lies before the day's midnight and
 * within MAX_REACH_BACK_S of it, but never before `now` (Unix seconds, the run's start).
 */
export function runWindow(day: Span, coverageEnd: number | null, now: number): Span {
  if (coverageEnd === null || coverageEnd >= day.start || coverageEnd < day.start - MAX_REACH_BACK_S) {
    return { start: day.start, end: day.end };
  }
  return { start: Math.min(day.start, Math.max(coverageEnd, now)), end: day.end };
}

/** A run that covered its window: completed, or completed and since reopened. */
export interface CoveredRun {
  day: string;
  /** Unix seconds. */
  windowEnd: number;
  reopened: boolean;
}

/**
 * The days of `runs` (the grant's recent covered runs) to reopen now that the grant's zone is
 * `zone`: completed ones whose day in `zone` ends past every covered window (a reopened run
 * still covered its old window) and has not ended at `now` (Unix seconds).
 */
export function daysToReopen(runs: readonly CoveredRun[], zone: string, now: number): string[] {
  if (runs.length === 0) return [];
  const coverageEnd = Math.max(...runs.map((r) => r.windowEnd));
  return runs
    .filter((r) => {
      if (r.reopened) return false;
      const end = localDayWindow(zone, r.day).end;
      return end > now && end > coverageEnd;
    })
    .map((r) => r.day)
    .sort();
}

/**
 * A reopened day is due once its eve's send hour has passed in the grant's zone (the same
 * test as the scheduler's next day, for any earlier day too), until the day has ended there.
 */
export function isReopenedDayDue(zone: string, sendHour: number, day: string, now: Date): boolean {
  const d = isDueToSend(zone, sendHour, now);
  const lastDue = d.due ? d.day : addDays(d.day, -1);
  return day <= lastDue && localDayWindow(zone, day).end > now.getTime() / 1000;
}
