import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { honourOptOuts } from "../optout/selection.js";
import { dayChanges } from "../reminders/changes.js";
import type { Ledger } from "../reminders/ledger.js";
import type { Meeting } from "../reminders/meeting.js";

/**
 * A re-run's meetings: the day's selected meetings, those that moved since their reminder
 * marked so; and its notices: one for each reminded meeting now gone (the decisions are
 * src/reminders/changes.ts; the ledger keeps every one of them to a single send). A notice
 * goes to the reminder's recipients who have not opted out since.
 */
export async function rerunMeetings(
  db: Db,
  ledger: Pick<Ledger, "sentOfDay">,
  day: { grantId: string; day: string; email: string },
  read: {
    events: readonly unknown[];
    meetings: readonly Meeting[];
    /** Asks Nylas for one event (under the grant's read budget); undefined: it has none. */
    findEvent(eventId: string): Promise<unknown>;
  },
  cancelNotices: boolean,
  log: Pick<Logger, "info">,
): Promise<{ meetings: Meeting[]; notices: Meeting[] }> {
  const sent = await ledger.sentOfDay(day.grantId, day.day);
  const changes = dayChanges({ ...read, sent, cancelNotices });
  // Not listed for the day: deleted, or moved to another day. Only the first is cancelled;
  // the other is reminded by its new day's run (a notice saying "cancelled" would be false).
  const cancelled = [...changes.cancellations];
  let movedAway = 0;
  for (const notice of changes.absent) {
    if (isGoneAtNylas(await read.findEvent(notice.eventId))) cancelled.push(notice);
    else movedAway++;
  }
  if (changes.moved > 0 || cancelled.length > 0 || movedAway > 0)
    log.info(
      { moved: changes.moved, cancelled: cancelled.length, movedAway },
      "re-run: meetings changed since the run",
    );
  const notices = await honourOptOuts(db, day.email, { meetings: cancelled, skipped: {}, problems: [] });
  return { meetings: changes.meetings, notices: notices.meetings };
}

function isGoneAtNylas(event: unknown): boolean {
  if (typeof event !== "object" || event === null) return true;
  const status = (event as { status?: unknown }).status;
  return typeof status === "string" && status.toLowerCase() === "cancelled";
}
