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
  day: { grantId: string; day: string; email: string; window: { start: number; end: number } },
  read: { events: readonly unknown[]; meetings: readonly Meeting[] },
  cancelNotices: boolean,
  log: Pick<Logger, "info">,
): Promise<{ meetings: Meeting[]; notices: Meeting[] }> {
  const sent = await ledger.sentOfDay(day.grantId, day.day);
  const changes = dayChanges({ ...read, sent, window: day.window, cancelNotices });
  if (changes.moved > 0 || changes.cancellations.length > 0)
    log.info(
      { moved: changes.moved, cancelled: changes.cancellations.length },
      "re-run: meetings changed since the run",
    );
  const notices = await honourOptOuts(db, day.email, { meetings: changes.cancellations, skipped: {}, problems: [] });
  return { meetings: changes.meetings, notices: notices.meetings };
}
