/**
 * What a backfill's runs skipped and why, as one line: the per-reason counts of the runs'
 * `skipped_by_reason`, summed. Pure. Counts read from the database are untrusted JSON:
 * a reason that is not a plain name, or a count that is not a positive whole number, is
 * ignored (nothing odd reaches the terminal).
 */

export type SkipCounts = Record<string, number>;

const REASON_RE = /^[a-z][a-z_]{0,39}$/;

/** Sums per-reason counts (Run rows' skipped_by_reason, dry-run selections). */
export function sumSkips(all: readonly unknown[]): SkipCounts {
  const total: SkipCounts = {};
  for (const counts of all) {
    if (typeof counts !== "object" || counts === null || Array.isArray(counts)) continue;
    for (const [reason, n] of Object.entries(counts)) {
      if (!REASON_RE.test(reason) || typeof n !== "number" || !Number.isInteger(n) || n <= 0) continue;
      total[reason] = (total[reason] ?? 0) + n;
    }
  }
  return total;
}

/** Why each reason skips a meeting, for people reading the report. */
const WHY: Record<string, string> = {
  started: "starts within MIN_LEAD_MINUTES of the send, or already began",
  not_organizer: "the reminder policy wants meetings the user organises",
  internal_only: "policy external: no guest outside the user's domain",
  too_many_recipients: "more recipients than MAX_RECIPIENTS",
  private: "a private event",
  outside_window: "does not start on the day",
  cancelled: "cancelled",
  all_day: "all-day (INCLUDE_ALL_DAY is off)",
  declined_by_user: "the user declined",
  no_other_participants: "nobody else to remind",
  malformed: "unreadable event data",
  covered_by_other_grant: "another connected user's grant reminds it",
  opted_out: "every recipient opted out",
};

/**
 * The summary block: a first line with the total, then one line per reason (most first, then
 * by name) with its count and why; just "skipped nothing" when there is nothing.
 */
export function describeSkips(counts: SkipCounts): string[] {
  const entries = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return ["skipped nothing"];
  const total = entries.reduce((a, [, n]) => a + n, 0);
  const width = Math.max(...entries.map(([r]) => r.length));
  return [
    `skipped ${total} meeting(s):`,
    ...entries.map(([r, n]) => `  ${r.padEnd(width)}  ${String(n).padStart(4)}  ${WHY[r] ?? ""}`.trimEnd()),
  ];
}
