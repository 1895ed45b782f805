/**
 * Never stale: a reminder goes out at least the lead time (MIN_LEAD_MINUTES) before its
 * meeting starts, or not at all, whatever the path that sends it (a delayed job, a retry, a
 * backfill of a past day). Pure: the caller gives the clock.
 *
 * A meeting is `started` when it starts less than `leadSeconds` after `nowUnix`: one that
 * starts exactly the lead away is still due, one that already began never is (lead 0 skips
 * only those).
 */

/** Whether a meeting starting at `start` (Unix seconds) is too late to remind at `nowUnix`. */
export function isStarted(start: number, nowUnix: number, leadSeconds: number): boolean {
  return start - nowUnix < leadSeconds;
}

/** Splits meetings into those still due and those `started`, keeping their order. */
export function splitByLead<M extends { start: number }>(
  meetings: readonly M[],
  nowUnix: number,
  leadSeconds: number,
): { due: M[]; started: M[] } {
  const due: M[] = [];
  const started: M[] = [];
  for (const m of meetings) (isStarted(m.start, nowUnix, leadSeconds) ? started : due).push(m);
  return { due, started };
}
