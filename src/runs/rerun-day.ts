import type { Logger } from "../log/logger.js";
import { dayChanges } from "../reminders/changes.js";
import type { Ledger } from "../reminders/ledger.js";
import type { Meeting } from "../reminders/meeting.js";

/**
 * A re-run's meetings: the day's selected meetings, those that moved since their reminder
 * marked so, and a cancellation notice for each reminded meeting now gone (the decisions are
 * src/reminders/changes.ts; the ledger keeps every one of them to a single send).
 */
export async function rerunMeetings(
  ledger: Pick<Ledger, "sentOfDay">,
  day: { grantId: string; day: string; window: { start: number; end: number } },
  read: { events: readonly unknown[]; meetings: readonly Meeting[] },
  cancelNotices: boolean,
  log: Pick<Logger, "info">,
): Promise<Meeting[]> {
  const sent = await ledger.sentOfDay(day.grantId, day.day);
  const changes = dayChanges({ ...read, sent, window: day.window, cancelNotices });
  if (changes.moved > 0 || changes.cancellations.length > 0)
    log.info(
      { moved: changes.moved, cancelled: changes.cancellations.length },
      "re-run: meetings changed since the run",
    );
  return [...changes.meetings, ...changes.cancellations];
}
