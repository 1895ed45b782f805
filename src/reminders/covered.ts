import type { ReminderPolicy } from "../db/generated/enums.js";
import type { Selection } from "./meeting.js";
import { chooseSender, type PeerGrant } from "./sender-choice.js";

/** A grant as read for the covered-meeting check; a null policy is the deployment's. */
export interface PeerRow {
  id: string;
  email: string;
  policy: ReminderPolicy | null;
}

/** The lowercased addresses whose grants decide which meetings are covered (none: nothing to read). */
export function coverPeople(selection: Selection): string[] {
  const people = new Set<string>();
  for (const m of selection.meetings) {
    if (m.icalUid === undefined) continue;
    for (const r of m.recipients) people.add(r.email.trim().toLowerCase());
    if (m.organizer) people.add(m.organizer.email.trim().toLowerCase());
  }
  return [...people];
}

/**
 * Pure: the selection less the meetings another of `rows` reminds. `rows` are the grant's own
 * row and the grants that can run among the people of `coverPeople` (or of a selection this
 * one was narrowed from: grants not among a meeting's people are left out of its choice).
 */
export function withoutCoveredBy(
  rows: readonly PeerRow[],
  grant: { id: string; email: string },
  selection: Selection,
  defaultPolicy: ReminderPolicy = "organized",
): Selection {
  if (!selection.meetings.some((m) => m.icalUid !== undefined)) return selection;
  const asPeer = (r: PeerRow): PeerGrant => ({ id: r.id, email: r.email, policy: r.policy ?? defaultPolicy });
  const selfRow = rows.find((r) => r.id === grant.id);
  const self = selfRow ? asPeer(selfRow) : { id: grant.id, email: grant.email, policy: defaultPolicy };
  const others = rows.filter((r) => r.id !== grant.id).map(asPeer);
  if (others.length === 0) return selection;

  const meetings = selection.meetings.filter((m) => chooseSender(m, self, others).send);
  const covered = selection.meetings.length - meetings.length;
  if (covered === 0) return selection;
  const skipped = { ...selection.skipped };
  skipped.covered_by_other_grant = (skipped.covered_by_other_grant ?? 0) + covered;
  return { ...selection, meetings, skipped };
}
