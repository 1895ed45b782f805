import type { Db } from "../../src/db/client.js";
import type { ReminderPolicy } from "../../src/db/generated/enums.js";
import { GRANT_CAN_RUN_SQL } from "../../src/grants/status.js";
import { coverPeople, withoutCoveredBy, type PeerRow } from "../../src/reminders/covered.js";
import type { Selection } from "../../src/reminders/meeting.js";

/**
 * The covered-meeting check with a read of its own, the plain statement of what
 * READ_PEOPLE_FACTS batches (src/reminders/people.ts): the tests' oracle for that statement.
 */
const READ_PEER_GRANTS = `
  SELECT id, email, policy::text AS policy FROM grants
  WHERE id = $1 OR (lower(email) = ANY($2::text[]) AND ${GRANT_CAN_RUN_SQL})`;

export async function withoutCoveredMeetings(
  db: Db,
  grant: { id: string; email: string },
  selection: Selection,
  defaultPolicy: ReminderPolicy = "organized",
): Promise<Selection> {
  const people = coverPeople(selection);
  if (people.length === 0) return selection;
  const rows = await db.$queryRawUnsafe<PeerRow[]>(READ_PEER_GRANTS, grant.id, people);
  return withoutCoveredBy(rows, grant, selection, defaultPolicy);
}
