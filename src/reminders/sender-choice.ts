/**
 * Which connected grant reminds a meeting several connected users are in, so each person gets
 * one reminder. Pure: every grant's run asks the same question about the same meeting (same
 * iCalendar UID and start) and gets the same answer.
 *
 * - Candidates: the grants in the meeting whose policy would remind it: `all` reminds every
 *   meeting, `organized` and `external` only the meetings the grant's user organises (whether
 *   there is an outside guest is select.ts's to decide).
 * - The organiser's grant, when it is a candidate, sends: it reminds everyone else too.
 * - Otherwise the candidate with the smallest grant id (code-unit order) sends.
 * - A meeting without an iCalendar UID cannot be matched across calendars: never covered.
 * - A meeting without an organiser: every user in it sees it as their own (select.ts says the
 *   user organises it), so each grant counts as organising it and none is "the" organiser.
 */
import type { ReminderPolicy } from "../db/generated/enums.js";
import type { Meeting } from "./meeting.js";

/** A grant that can run (src/grants/status.ts), with its effective policy. */
export interface PeerGrant {
  id: string;
  email: string;
  policy: ReminderPolicy;
}

export type SenderChoice = { send: true } | { send: false; coveredBy: string };

type MeetingFacts = Pick<Meeting, "icalUid" | "organizer" | "recipients" | "userIsOrganizer">;

/**
 * Whether `self` sends the meeting's reminders or another grant does. `others` are the other
 * connected grants (any, in the meeting or not: those not among its people are left out).
 */
export function chooseSender(meeting: MeetingFacts, self: PeerGrant, others: readonly PeerGrant[]): SenderChoice {
  if (meeting.icalUid === undefined || others.length === 0) return { send: true };
  const organizerKey = meeting.organizer?.email.trim().toLowerCase();
  const people = new Set(meeting.recipients.map((r) => r.email.trim().toLowerCase()));
  if (organizerKey !== undefined) people.add(organizerKey);
  const organises = (g: PeerGrant) => organizerKey === undefined || key(g) === organizerKey;
  const reminds = (g: PeerGrant, organised: boolean) => g.policy === "all" || organised;

  const otherCandidates = others.filter((g) => g.id !== self.id && people.has(key(g)) && reminds(g, organises(g)));
  if (otherCandidates.length === 0) return { send: true };
  const candidates = reminds(self, meeting.userIsOrganizer) ? [self, ...otherCandidates] : otherCandidates;
  // The organiser is one person: their grant sends (the smallest id, should they have two).
  const organiser = organizerKey === undefined ? [] : candidates.filter((g) => key(g) === organizerKey);
  const sender = smallest(organiser) ?? smallest(candidates)!;
  return sender.id === self.id ? { send: true } : { send: false, coveredBy: sender.id };
}

const key = (g: PeerGrant) => g.email.trim().toLowerCase();

function smallest(grants: readonly PeerGrant[]): PeerGrant | undefined {
  return grants.reduce<PeerGrant | undefined>((min, g) => (min === undefined || g.id < min.id ? g : min), undefined);
}
