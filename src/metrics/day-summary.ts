/**
 * Turns per-zone rows of `grants` and `runs` into the day-relative numbers the metrics show.
 * Pure: the rows and the instant come in, numbers go out.
 *
 * A run's `day` is a local date in its grant's zone, so which label is "today" depends on
 * the zone: at 10:00 UTC it is already tomorrow in Pacific/Kiritimati (UTC+14) and still
 * yesterday in Pacific/Pago_Pago (UTC-11). "current" is therefore the run's own zone's
 * local date now and "next" the day after it (the day tonight's reminders are for), decided
 * zone by zone; the two newest labels in the table would mix zones and count a backfill of
 * next week as "next".
 */
import { GrantStatus, RunStatus } from "../db/generated/enums.js";
import { grantCanRun } from "../grants/status.js";
import type { SkipReason } from "../reminders/meeting.js";
import { addDays, isDueToSend, localDate } from "../time/window.js";

export const DAY_LABELS = ["current", "next"] as const;
export type DayLabel = (typeof DAY_LABELS)[number];

export const RUN_STATUSES = Object.values(RunStatus);
export const GRANT_STATUSES = Object.values(GrantStatus);
/** Run states after which a day needs nothing more (as the scheduler sees them). */
const SETTLED: ReadonlySet<string> = new Set<RunStatus>(["completed", "skipped"]);

export const SKIP_REASONS = [
  "outside_window",
  "cancelled",
  "all_day",
  "declined_by_user",
  "no_other_participants",
  "malformed",
  "private",
  "not_organizer",
  "internal_only",
  "too_many_recipients",
  "started",
] as const satisfies readonly SkipReason[];
/** A reason this version does not know (written by a newer one) counts here. */
export const OTHER_REASON = "other";
export const REMINDER_OUTCOMES = ["sent", "failed", "skipped"] as const;

export interface GrantRow {
  zone: string;
  hour: number;
  status: string;
  enabled: boolean;
  provider: string;
  n: number;
}

export interface RunRow {
  zone: string;
  day: string;
  status: string;
  runs: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Meetings skipped, of the known reasons; the rest of `skipped` counts as "other". */
  reasons: Record<string, number>;
}

export interface ZoneSummary {
  /** Valid, enabled grants whose send hour has passed today: their next day should be done. */
  due: number;
  /** Runs of the next day that are completed or skipped. */
  settled: number;
  /** Reminders sent by the next day's runs. */
  sent: number;
}

export interface DaySummary {
  runs: Record<DayLabel, Record<string, number>>;
  reminders: Record<DayLabel, Record<string, number>>;
  skipped: Record<DayLabel, Record<string, number>>;
  grants: Record<string, { enabled: number; disabled: number }>;
  zones: Map<string, ZoneSummary>;
}

/**
 * Local dates that can be some zone's current or next day at `now`: zones run from UTC-12
 * to UTC+14, so today in any zone is the UTC date or one either side, and next one later.
 */
export function candidateDays(now: Date): { from: string; to: string } {
  const utc = now.toISOString().slice(0, 10);
  return { from: addDays(utc, -1), to: addDays(utc, 2) };
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export function summarize(grants: GrantRow[], runs: RunRow[], now: Date): DaySummary {
  const out: DaySummary = {
    runs: { current: zeros(RUN_STATUSES), next: zeros(RUN_STATUSES) },
    reminders: { current: zeros(REMINDER_OUTCOMES), next: zeros(REMINDER_OUTCOMES) },
    skipped: { current: zeros([...SKIP_REASONS, OTHER_REASON]), next: zeros([...SKIP_REASONS, OTHER_REASON]) },
    grants: Object.fromEntries(GRANT_STATUSES.map((s) => [s, { enabled: 0, disabled: 0 }])),
    zones: new Map(),
  };
  const current = new Map<string, string | null>();
  // Each zone's local date is computed once per scrape; a zone Node does not know has none.
  const today = (zone: string): string | null => {
    let d = current.get(zone);
    if (d === undefined) {
      try {
        d = localDate(zone, now);
      } catch {
        d = null;
      }
      current.set(zone, d);
    }
    return d;
  };
  const relative = (zone: string, day: string): DayLabel | undefined => {
    const d = today(zone);
    if (d === null) return undefined;
    return day === d ? "current" : day === addDays(d, 1) ? "next" : undefined;
  };
  const zone = (name: string): ZoneSummary => {
    let z = out.zones.get(name);
    if (!z) out.zones.set(name, (z = { due: 0, settled: 0, sent: 0 }));
    return z;
  };

  for (const g of grants) {
    const counts = out.grants[g.status] ?? (out.grants[g.status] = { enabled: 0, disabled: 0 });
    if (g.enabled) counts.enabled += g.n;
    else counts.disabled += g.n;
    if (!grantCanRun(g) || today(g.zone) === null) continue;
    const z = zone(g.zone);
    try {
      if (isDueToSend(g.zone, g.hour, now).due) z.due += g.n;
    } catch {
      // A send hour outside 0-23 is never due, here as in the scheduler.
    }
  }

  for (const r of runs) {
    const rel = relative(r.zone, r.day);
    if (!rel) continue;
    const byStatus = out.runs[rel];
    byStatus[r.status] = (byStatus[r.status] ?? 0) + r.runs;
    const rem = out.reminders[rel];
    rem.sent! += r.sent;
    rem.failed! += r.failed;
    rem.skipped! += r.skipped;
    const reasons = out.skipped[rel];
    let known = 0;
    for (const k of SKIP_REASONS) {
      const n = r.reasons[k] ?? 0;
      reasons[k]! += n;
      known += n;
    }
    reasons[OTHER_REASON]! += Math.max(0, r.skipped - known);
    if (rel === "next") {
      const z = zone(r.zone);
      if (SETTLED.has(r.status)) z.settled += r.runs;
      z.sent += r.sent;
    }
  }

  return out;
}
