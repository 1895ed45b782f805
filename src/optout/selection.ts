/**
 * Selection honours the suppression list: suppressed recipients are dropped from each
 * meeting, and a meeting left with nobody is skipped as `opted_out`.
 */
import type { Db } from "../db/client.js";
import type { Selection } from "../reminders/meeting.js";
import { listSuppressedFor } from "./store.js";

/** Pure: the selection without the suppressed recipients (lowercase addresses). */
export function dropSuppressed(selection: Selection, suppressed: ReadonlySet<string>): Selection {
  if (suppressed.size === 0) return selection;
  const meetings: Selection["meetings"] = [];
  let optedOut = 0;
  for (const meeting of selection.meetings) {
    const recipients = meeting.recipients.filter((r) => !suppressed.has(r.email.trim().toLowerCase()));
    if (recipients.length === 0) optedOut++;
    else meetings.push(recipients.length === meeting.recipients.length ? meeting : { ...meeting, recipients });
  }
  if (optedOut === 0 && meetings.every((m, i) => m === selection.meetings[i])) return selection;
  const skipped = { ...selection.skipped };
  if (optedOut > 0) skipped.opted_out = (skipped.opted_out ?? 0) + optedOut;
  return { ...selection, meetings, skipped };
}

/** The selection as the list stands for this sender (the grant's address). */
export async function honourOptOuts(db: Db, senderEmail: string, selection: Selection): Promise<Selection> {
  const recipients = selection.meetings.flatMap((m) => m.recipients.map((r) => r.email));
  return dropSuppressed(selection, await listSuppressedFor(db, senderEmail, recipients));
}
