/**
 * What changed in a grant's day since its reminders went out, for a re-run (src/runs/rerun.ts).
 * Pure: the day's events as read now, the meetings selected from them and the ledger's sent
 * rows in; the meetings to send out.
 *
 * - MOVED: a selected meeting whose event had a reminder sent at another start, and none at
 *   this one, is marked `movedFrom` (the start of its latest sent reminder): its new reminder
 *   says so. Its ledger key (a new start) makes it a new row; the old one is not resent.
 * - CANCELLED: an event with a sent reminder that is gone from the day (absent, status
 *   cancelled, or no longer starting inside the window) gets one cancellation notice, to the
 *   recipients and with the title and start of its latest sent reminder. The ledger keys it
 *   (grant, event, that start, "cancellation"), so a second re-run sends nothing.
 * An event still in the day that selection passed over (the user declined, say) is neither.
 */
import type { SentRow } from "./ledger.js";
import type { Meeting } from "./meeting.js";
import { timedStart } from "./select.js";

export interface DayChangesInput {
  /** Every event read for the day (cancelled ones included when the read asked for them). */
  events: readonly unknown[];
  /** The meetings selection kept from `events`. */
  meetings: readonly Meeting[];
  /** The ledger's sent rows of the day, oldest send first. */
  sent: readonly SentRow[];
  /** Unix seconds, [start, end): the run's window. */
  window: { start: number; end: number };
  /** CANCEL_NOTICES: send cancellation notices (default on). */
  cancelNotices: boolean;
}

export interface DayChanges {
  /** `meetings`, those that moved marked with `movedFrom` (copies; the input is not changed). */
  meetings: Meeting[];
  /** One notice per cancelled event (`cancelled: true`). */
  cancellations: Meeting[];
  moved: number;
}

interface EventState {
  starts: number[];
  cancelled: boolean;
}

export function dayChanges(input: DayChangesInput): DayChanges {
  const reminded = latestSent(input.sent);
  let moved = 0;
  const meetings = input.meetings.map((m) => {
    const rows = reminded.get(m.eventId);
    if (!rows || rows.some((r) => r.eventStart === m.start)) return m;
    moved++;
    return { ...m, movedFrom: rows[rows.length - 1]!.eventStart };
  });
  const cancellations: Meeting[] = [];
  if (input.cancelNotices) {
    const states = eventStates(input.events);
    for (const [eventId, rows] of reminded) {
      if (!isGone(states.get(eventId), input.window)) continue;
      const last = rows[rows.length - 1]!;
      cancellations.push({
        eventId,
        start: last.eventStart,
        end: last.eventStart,
        title: last.title,
        recipients: last.recipients,
        recurring: false,
        userIsOrganizer: false,
        cancelled: true,
      });
    }
  }
  return { meetings, cancellations, moved };
}

/** Sent reminders (not notices) by event id, oldest send first. */
function latestSent(sent: readonly SentRow[]): Map<string, SentRow[]> {
  const out = new Map<string, SentRow[]>();
  for (const row of sent) {
    if (row.kind !== "reminder") continue;
    const rows = out.get(row.eventId) ?? [];
    rows.push(row);
    out.set(row.eventId, rows);
  }
  return out;
}

function eventStates(events: readonly unknown[]): Map<string, EventState> {
  const out = new Map<string, EventState>();
  for (const raw of events) {
    if (typeof raw !== "object" || raw === null) continue;
    const ev = raw as { id?: unknown; when?: unknown; status?: unknown };
    if (typeof ev.id !== "string") continue;
    const state = out.get(ev.id) ?? { starts: [], cancelled: true };
    const cancelled = typeof ev.status === "string" && ev.status.toLowerCase() === "cancelled";
    // An id listed twice (pages overlapping) is gone only if every listing says so.
    if (!cancelled) {
      state.cancelled = false;
      const start = timedStart(ev.when);
      // An all-day event has no timed start: it is in the day (its reminder, if any, stands).
      state.starts.push(start ?? Number.NaN);
    }
    out.set(ev.id, state);
  }
  return out;
}

function isGone(state: EventState | undefined, window: { start: number; end: number }): boolean {
  if (!state || state.cancelled) return true;
  return !state.starts.some((s) => Number.isNaN(s) || (s >= window.start && s < window.end));
}
