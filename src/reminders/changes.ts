/**
 * What changed in a grant's day since its reminders went out, for a re-run (src/runs/rerun.ts).
 * Pure: the day's events as read now, the meetings selected from them and the ledger's sent
 * rows in; the meetings to send out.
 *
 * - MOVED: a selected meeting whose event had a reminder sent at another start, and none at
 *   this one, is marked `movedFrom` (the start of its latest sent reminder): its new reminder
 *   says so. Its ledger key (a new start) makes it a new row; the old one is not resent.
 * - CANCELLED: an event with a sent reminder that the read lists as cancelled gets one
 *   cancellation notice, to the recipients and with the title and start of its latest sent
 *   reminder. The ledger keys it (grant, event, that start, "cancellation"), so a second
 *   re-run sends nothing.
 * - ABSENT: an event with a sent reminder that the read does not list at all may be deleted or
 *   moved to another day: returned apart (`absent`, shaped as notices), for the caller to ask
 *   Nylas about it; only a deleted or cancelled one gets the notice.
 * - MOVED OUT: an event still listed (it overlaps the window) but starting outside it now is
 *   not cancelled: no notice; its new day's run reminds it.
 * An event still in the day that selection passed over (the user declined, say) is neither.
 */
import type { SentRow } from "./ledger.js";
import type { Meeting } from "./meeting.js";

export interface DayChangesInput {
  /** Every event read for the day (cancelled ones included when the read asked for them). */
  events: readonly unknown[];
  /** The meetings selection kept from `events`. */
  meetings: readonly Meeting[];
  /** The ledger's sent rows of the day, oldest send first. */
  sent: readonly SentRow[];
  /** CANCEL_NOTICES: send cancellation notices (default on). */
  cancelNotices: boolean;
}

export interface DayChanges {
  /** `meetings`, those that moved marked with `movedFrom` (copies; the input is not changed). */
  meetings: Meeting[];
  /** One notice per cancelled event (`cancelled: true`). */
  cancellations: Meeting[];
  /** Notices for reminded events the read did not list: deleted, or moved to another day. */
  absent: Meeting[];
  moved: number;
}

interface EventState {
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
  const absent: Meeting[] = [];
  if (input.cancelNotices) {
    const states = eventStates(input.events);
    for (const [eventId, rows] of reminded) {
      const state = states.get(eventId);
      if (state && !state.cancelled) continue;
      const last = rows[rows.length - 1]!;
      // A meeting reminded one message per recipient has a row per recipient at that start:
      // the notice goes to them all, and one by one again (see deliveries.ts).
      const atLast = rows.filter((r) => r.eventStart === last.eventStart);
      const individual = atLast.some((r) => r.audience !== "");
      (state ? cancellations : absent).push({
        eventId,
        start: last.eventStart,
        end: last.eventStart,
        title: last.title,
        recipients: individual ? atLast.flatMap((r) => r.recipients) : last.recipients,
        recurring: false,
        userIsOrganizer: false,
        cancelled: true,
        ...(individual ? { hideParticipants: true } : {}),
      });
    }
  }
  return { meetings, cancellations, absent, moved };
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
    const ev = raw as { id?: unknown; status?: unknown };
    if (typeof ev.id !== "string") continue;
    const state = out.get(ev.id) ?? { cancelled: true };
    // An id listed twice (pages overlapping) is cancelled only if every listing says so.
    if (!(typeof ev.status === "string" && ev.status.toLowerCase() === "cancelled")) state.cancelled = false;
    out.set(ev.id, state);
  }
  return out;
}
