/**
 * Which of a grant's events get a reminder, and to whom. Pure: events in, decisions out.
 *
 * Input is every event of every page Nylas returned for the window (the SDK's camelCase shape).
 * Payloads are treated as untrusted: anything odd is counted as `malformed` with a problem entry;
 * nothing in here throws for bad event data (only for a bad `ctx`, which is a programming error).
 *
 * Decisions:
 * - An event counts only if it STARTS in [window.start, window.end): Nylas also returns events
 *   that merely overlap the window (yesterday's late meeting, multi-day spans).
 * - Checks run in this order and the first that applies is the skip reason: malformed, all_day
 *   (when not included), outside_window, cancelled, declined_by_user, no_other_participants,
 *   then the policy checks of src/reminders/policy.ts: private, not_organizer or internal_only
 *   (`ctx.policy`), too_many_recipients (`ctx.maxRecipients`).
 * - All-day events (`date`/`datespan`, or a `when` without a start time) are skipped unless
 *   `includeAllDay`; then they start at local midnight of their first date in `ctx.zone` and end
 *   at the end of their last date (a datespan's `endDate` is taken as inclusive).
 * - The user is the participant whose email equals `grantEmail` case-insensitively; if any such
 *   entry has status "no" the whole event is skipped (the user is not going).
 * - Recipients: participants other than the user with a usable email who have not declined
 *   (anyone listed twice with a "no" anywhere counts as declined), deduplicated
 *   case-insensitively keeping the first entry (and the first non-empty name seen).
 *   Participants without an email (rooms, dial-in numbers) are ignored silently; Google
 *   resource/group calendar addresses (rooms, shared calendars) are not people and are dropped.
 * - The organizer: Google lists the organizer among the attendees, Microsoft Graph does not, so
 *   an organizer who is not the user and not listed at all is added as a recipient, making the
 *   outcome the same on both providers. An organizer who is listed keeps their listed status.
 * - Participant entries whose email is present but unusable (not a string, not an address) are
 *   dropped with a problem entry; if that leaves no recipient, the event is `malformed` (we cannot
 *   tell whether it really had other participants), otherwise the rest still get the reminder.
 * - Events with the same id and start (pages overlapping, retried pages) are kept once.
 * - Text (title, names, location, description) keeps a lone UTF-16 surrogate as U+FFFD, as a
 *   UTF-8 encoder would; an id or address with one cannot be kept as given and is unusable.
 * - Output is sorted by start, then event id (code-unit order), for deterministic runs.
 */
import type { Event } from "nylas";
import { InvalidDayError, localDayWindow } from "../time/window.js";
import { parseDay } from "../time/calendar.js";
import { assertZone } from "../time/zone.js";
import type { EmailAddress, Meeting, Selection, SelectionProblem, SkipReason } from "./meeting.js";
import { isReminderPolicy, policySkip, type ReminderPolicy } from "./policy.js";

export type When = Event["when"];

export interface SelectContext {
  /** Unix seconds, [start, end). */
  window: { start: number; end: number };
  /** The grant's own address: never a recipient, and the one whose RSVP counts. */
  grantEmail: string;
  includeAllDay?: boolean;
  /** IANA zone of the grant; required when includeAllDay is set. */
  zone?: string;
  /** Which meetings get a reminder (src/reminders/policy.ts). */
  policy: ReminderPolicy;
  /** Meetings with more recipients than this are skipped (too_many_recipients). */
  maxRecipients: number;
}

const MAX_ID_LENGTH = 1024;
const MAX_NAME_LENGTH = 200;
const MAX_EMAIL_LENGTH = 254;
// Local part: printable, no whitespace/quotes/brackets/separators that could smuggle a second
// address or a header into `to`. Domain: dot-separated labels of letters/digits/hyphens.
const LOCAL_PART = String.raw`[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f-\u009f]+`;
const DOMAIN_LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?`;
const EMAIL_RE = new RegExp(`^${LOCAL_PART}@${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})+$`, "u");
// Google calendar addresses that are calendars, not people (rooms, shared/holiday calendars).
const NON_PERSON_DOMAINS = [
  "resource.calendar.google.com",
  "group.calendar.google.com",
  "group.v.calendar.google.com",
  "import.calendar.google.com",
];
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
type Parsed =
  | { kind: "timed"; start: number; end: number }
  | { kind: "allday"; startDay: string; lastDay: string }
  | { kind: "malformed"; reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && Math.abs(v) < 1e11;
}

function validDay(v: unknown): v is string {
  try {
    parseDay(v);
    return true;
  } catch {
    return false;
  }
}

function parseWhen(when: unknown): Parsed {
  if (!isRecord(when)) return { kind: "malformed", reason: "when is missing or not an object" };
  const object = when.object;
  const kind =
    typeof object === "string"
      ? object
      : "startTime" in when
        ? "timespan"
        : "time" in when
          ? "time"
          : "startDate" in when
            ? "datespan"
            : "date" in when
              ? "date"
              : undefined;
  switch (kind) {
    case "timespan": {
      const { startTime, endTime } = when;
      if (!isTime(startTime)) return { kind: "malformed", reason: "when.startTime is not a Unix time" };
      if (!isTime(endTime)) return { kind: "malformed", reason: "when.endTime is not a Unix time" };
      const start = Math.floor(startTime);
      const end = Math.floor(endTime);
      if (end < start) return { kind: "malformed", reason: "when.endTime is before when.startTime" };
      return { kind: "timed", start, end };
    }
    case "time": {
      if (!isTime(when.time)) return { kind: "malformed", reason: "when.time is not a Unix time" };
      const t = Math.floor(when.time);
      return { kind: "timed", start: t, end: t };
    }
    case "date":
      if (!validDay(when.date)) return { kind: "malformed", reason: "when.date is not a YYYY-MM-DD date" };
      return { kind: "allday", startDay: when.date, lastDay: when.date };
    case "datespan": {
      const { startDate, endDate } = when;
      if (!validDay(startDate)) return { kind: "malformed", reason: "when.startDate is not a YYYY-MM-DD date" };
      if (!validDay(endDate)) return { kind: "malformed", reason: "when.endDate is not a YYYY-MM-DD date" };
      if (endDate < startDate) return { kind: "malformed", reason: "when.endDate is before when.startDate" };
      return { kind: "allday", startDay: startDate, lastDay: endDate };
    }
    default:
      return {
        kind: "malformed",
        reason: kind === undefined ? "when has no start" : `unknown when.object ${JSON.stringify(kind).slice(0, 40)}`,
      };
  }
}

/**
 * Start (Unix seconds) of a timed `when` (timespan or time); undefined for all-day or odd shapes.
 * Accepts untrusted input.
 */
export function timedStart(when: When | null | undefined | unknown): number | undefined {
  const parsed = parseWhen(when);
  return parsed.kind === "timed" ? parsed.start : undefined;
}

function cleanName(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.toWellFormed().replace(CONTROL_RE, " ").replace(/\s+/g, " ").trim();
  if (!s) return undefined;
  const chars = Array.from(s);
  return chars.length > MAX_NAME_LENGTH ? `${chars.slice(0, MAX_NAME_LENGTH - 1).join("")}…` : s;
}

type EmailCheck = { ok: true; email: string; key: string } | { ok: false; absent: boolean };

function checkEmail(v: unknown): EmailCheck {
  if (v === undefined || v === null || v === "") return { ok: false, absent: true };
  if (typeof v !== "string") return { ok: false, absent: false };
  const email = v.trim();
  if (email.length === 0) return { ok: false, absent: true };
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_RE.test(email) || !email.isWellFormed())
    return { ok: false, absent: false };
  return { ok: true, email, key: email.toLowerCase() };
}

function isPerson(key: string): boolean {
  const domain = key.slice(key.lastIndexOf("@") + 1);
  return !NON_PERSON_DOMAINS.some((d) => domain === d || domain.endsWith(`.${d}`));
}

function optionalText(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  return v.trim() === "" ? undefined : v.toWellFormed();
}

function conferencingUrl(conferencing: unknown): string | undefined {
  if (!isRecord(conferencing) || !isRecord(conferencing.details)) return undefined;
  const url = conferencing.details.url;
  return typeof url === "string" && url.trim() !== "" ? url.trim() : undefined;
}

function assertContext(ctx: SelectContext): void {
  const w = ctx?.window;
  if (!w || !Number.isFinite(w.start) || !Number.isFinite(w.end) || w.end < w.start) {
    throw new TypeError("selectMeetings: ctx.window must be finite Unix seconds with start <= end");
  }
  if (typeof ctx.grantEmail !== "string" || !ctx.grantEmail.includes("@")) {
    throw new TypeError("selectMeetings: ctx.grantEmail must be an email address");
  }
  if (ctx.includeAllDay) assertZone(ctx.zone);
  if (!isReminderPolicy(ctx.policy))
    throw new TypeError("selectMeetings: ctx.policy must be organized, all or external");
  if (!Number.isInteger(ctx.maxRecipients) || ctx.maxRecipients < 1)
    throw new TypeError("selectMeetings: ctx.maxRecipients must be a whole number >= 1");
}

export function selectMeetings(events: readonly Event[] | readonly unknown[], ctx: SelectContext): Selection {
  assertContext(ctx);
  const userKey = ctx.grantEmail.trim().toLowerCase();
  const meetings: Meeting[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  const problems: SelectionProblem[] = [];
  const seen = new Set<string>();

  const list: readonly unknown[] = Array.isArray(events) ? events : [];
  if (!Array.isArray(events)) problems.push({ reason: "events is not an array" });

  for (const raw of list) {
    const verdict = judgeEvent(raw, ctx, userKey, seen);
    if (verdict.kind === "duplicate") continue;
    if (verdict.problems) problems.push(...verdict.problems);
    if (verdict.kind === "meeting") meetings.push(verdict.meeting);
    else skipped[verdict.reason] = (skipped[verdict.reason] ?? 0) + 1;
  }

  meetings.sort(byStartThenId);
  return { meetings, skipped, problems };
}

/** What becomes of one event: a meeting, a skip with its reason, or nothing (seen before). */
type Verdict =
  | { kind: "meeting"; meeting: Meeting; problems?: SelectionProblem[] }
  | { kind: "skip"; reason: SkipReason; problems?: SelectionProblem[] }
  | { kind: "duplicate" };

const malformed = (reason: string, eventId?: string): Verdict => ({
  kind: "skip",
  reason: "malformed",
  problems: [eventId === undefined ? { reason } : { eventId, reason }],
});

/** The checks of the module comment, in their order; the first that applies decides. */
function judgeEvent(raw: unknown, ctx: SelectContext, userKey: string, seen: Set<string>): Verdict {
  if (!isRecord(raw)) return malformed("event is not an object");
  const id = usableId(raw.id);
  if (id === undefined) return malformed("event id is missing or not a usable string");
  const when = parseWhen(raw.when);
  if (when.kind === "malformed") return malformed(when.reason, id);

  if (when.kind === "allday" && !ctx.includeAllDay) {
    return markSeen(seen, id, `day:${when.startDay}`) ? { kind: "skip", reason: "all_day" } : { kind: "duplicate" };
  }
  const span = when.kind === "allday" ? allDaySpan(when, ctx.zone as string) : when;
  if ("problem" in span) return malformed(span.problem, id);
  const { start, end } = span;
  // The same occurrence on another page.
  if (!markSeen(seen, id, String(start))) return { kind: "duplicate" };

  if (start < ctx.window.start || start >= ctx.window.end) return { kind: "skip", reason: "outside_window" };
  if (typeof raw.status === "string" && raw.status.toLowerCase() === "cancelled")
    return { kind: "skip", reason: "cancelled" };

  const participants = raw.participants ?? [];
  if (!Array.isArray(participants)) return malformed("participants is not an array", id);
  const attendance = readParticipants(participants, id, userKey);
  if (attendance.userDeclined) return { kind: "skip", reason: "declined_by_user" };

  const organizer = organizerOf(raw.organizer);
  // Microsoft does not list the organizer among the attendees; Google does.
  if (organizer && organizer.entry.key !== userKey && !attendance.listed.has(organizer.entry.key))
    attendance.entries.push(organizer.entry);

  const recipients = recipientsOf(attendance.entries, attendance.declined);
  if (recipients.length === 0) {
    if (attendance.problems.length === 0) return { kind: "skip", reason: "no_other_participants" };
    // Whether it really had other participants cannot be told.
    return {
      kind: "skip",
      reason: "malformed",
      problems: [
        ...attendance.problems,
        { eventId: id, reason: "no usable recipient left after dropping unusable participants" },
      ],
    };
  }
  const meeting = toMeeting(raw, { eventId: id, start, end, recipients, allDay: when.kind === "allday" });
  if (organizer) meeting.organizer = organizer.address;
  // No organizer given: the event is on the user's calendar and nobody else claims it.
  meeting.userIsOrganizer = organizer === undefined || organizer.entry.key === userKey;
  const skip = policySkip(meeting, raw.visibility, userKey, ctx);
  if (skip !== undefined) return { kind: "skip", reason: skip, problems: attendance.problems };
  return { kind: "meeting", meeting, problems: attendance.problems };
}

function usableId(id: unknown): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (typeof id !== "string" || id.trim() === "" || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id))
    return undefined;
  // A lone UTF-16 surrogate has no UTF-8 form: such an id cannot be stored as given.
  if (!id.isWellFormed()) return undefined;
  return id;
}

/** An included all-day event: from local midnight of its first date to the end of its last. */
function allDaySpan(
  when: Extract<Parsed, { kind: "allday" }>,
  zone: string,
): { start: number; end: number } | { problem: string } {
  try {
    return { start: localDayWindow(zone, when.startDay).start, end: localDayWindow(zone, when.lastDay).end };
  } catch (e) {
    // Only a date at the edge of the calendar (9999-12-31) gets here.
    return { problem: e instanceof InvalidDayError ? "all-day date out of range" : "all-day date unusable" };
  }
}

interface Entry {
  key: string;
  email: string;
  name?: string;
}

/** Who is on the event besides the user, who said no, and whether the user did. */
interface Attendance {
  userDeclined: boolean;
  /** Participants other than the user with a usable email, in order (duplicates kept). */
  entries: Entry[];
  /** Keys of anyone with a "no" on any of their entries. */
  declined: Set<string>;
  /** Keys of every participant with a usable email, the user included. */
  listed: Set<string>;
  /** Entries dropped as unusable (not an object, an email that is not an address). */
  problems: SelectionProblem[];
}

function readParticipants(participants: unknown[], eventId: string, userKey: string): Attendance {
  const attendance: Attendance = {
    userDeclined: false,
    entries: [],
    declined: new Set(),
    listed: new Set(),
    problems: [],
  };
  participants.forEach((p: unknown, i: number) => {
    if (!isRecord(p)) {
      attendance.problems.push({ eventId, reason: `participant #${i} is not an object` });
      return;
    }
    const email = checkEmail(p.email);
    if (!email.ok) {
      // No email at all is a room or a dial-in number, not a fault.
      if (!email.absent) attendance.problems.push({ eventId, reason: `participant #${i} has an unusable email` });
      return;
    }
    const saidNo = typeof p.status === "string" && p.status.toLowerCase() === "no";
    attendance.listed.add(email.key);
    if (email.key === userKey) {
      if (saidNo) attendance.userDeclined = true;
      return;
    }
    if (saidNo) attendance.declined.add(email.key);
    attendance.entries.push({ key: email.key, email: email.email, name: cleanName(p.name) });
  });
  return attendance;
}

function organizerOf(raw: unknown): { entry: Entry; address: EmailAddress } | undefined {
  if (!isRecord(raw)) return undefined;
  const email = checkEmail(raw.email);
  if (!email.ok) return undefined;
  const name = cleanName(raw.name);
  return {
    entry: { key: email.key, email: email.email, name },
    address: name ? { name, email: email.email } : { email: email.email },
  };
}

/** People who have not declined, once each (the first entry, with the first name seen). */
function recipientsOf(entries: readonly Entry[], declined: ReadonlySet<string>): EmailAddress[] {
  const recipients: EmailAddress[] = [];
  const byKey = new Map<string, EmailAddress>();
  for (const entry of entries) {
    if (declined.has(entry.key) || !isPerson(entry.key)) continue;
    const existing = byKey.get(entry.key);
    if (existing) {
      if (existing.name === undefined && entry.name) existing.name = entry.name;
      continue;
    }
    const r: EmailAddress = entry.name ? { name: entry.name, email: entry.email } : { email: entry.email };
    byKey.set(entry.key, r);
    recipients.push(r);
  }
  return recipients;
}

function toMeeting(
  raw: Record<string, unknown>,
  m: { eventId: string; start: number; end: number; recipients: EmailAddress[]; allDay: boolean },
): Meeting {
  const meeting: Meeting = {
    eventId: m.eventId,
    start: m.start,
    end: m.end,
    title: typeof raw.title === "string" ? raw.title.toWellFormed() : "",
    recipients: m.recipients,
    recurring:
      (typeof raw.masterEventId === "string" && raw.masterEventId !== "") ||
      (Array.isArray(raw.recurrence) && raw.recurrence.length > 0),
    userIsOrganizer: false,
  };
  const icalUid = usableId(raw.icalUid);
  if (icalUid !== undefined) meeting.icalUid = icalUid;
  if (raw.hideParticipants === true) meeting.hideParticipants = true;
  const location = optionalText(raw.location);
  if (location !== undefined) meeting.location = location;
  const url = conferencingUrl(raw.conferencing);
  if (url !== undefined) meeting.conferencingUrl = url;
  const description = optionalText(raw.description);
  if (description !== undefined) meeting.description = description;
  if (m.allDay) meeting.allDay = true;
  return meeting;
}

function byStartThenId(a: Meeting, b: Meeting): number {
  return a.start - b.start || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

/** Records id+start; false when this occurrence was already seen. */
function markSeen(seen: Set<string>, id: string, start: string): boolean {
  const key = `${id}\u0000${start}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}
