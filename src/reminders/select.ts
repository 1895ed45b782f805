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
 *   (when not included), outside_window, cancelled, declined_by_user, no_other_participants.
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
 * - Output is sorted by start, then event id (code-unit order), for deterministic runs.
 */
import type { Event } from "nylas";
import { InvalidDayError, localDayWindow } from "../time/window.js";
import { parseDay } from "../time/calendar.js";
import { assertZone } from "../time/zone.js";
import type { EmailAddress, Meeting, Selection, SelectionProblem, SkipReason } from "./meeting.js";

export type When = Event["when"];

export interface SelectContext {
  /** Unix seconds, [start, end). */
  window: { start: number; end: number };
  /** The grant's own address: never a recipient, and the one whose RSVP counts. */
  grantEmail: string;
  includeAllDay?: boolean;
  /** IANA zone of the grant; required when includeAllDay is set. */
  zone?: string;
}

const MAX_ID_LENGTH = 1024;
const MAX_NAME_LENGTH = 200;
const MAX_EMAIL_LENGTH = 254;
// Local part: printable, no whitespace/quotes/brackets/separators that could smuggle a second
// address or a header into `to`. Domain: dot-separated labels of letters/digits/hyphens.
const EMAIL_RE =
  // eslint-disable-next-line no-control-regex
  /^[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f-\u009f]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$/u;
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

/** Start (Unix seconds) of a timed `when` (timespan or time); undefined for all-day or odd shapes. Accepts untrusted input. */
export function timedStart(when: When | null | undefined | unknown): number | undefined {
  const parsed = parseWhen(when);
  return parsed.kind === "timed" ? parsed.start : undefined;
}

function cleanName(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.replace(CONTROL_RE, " ").replace(/\s+/g, " ").trim();
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
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_RE.test(email)) return { ok: false, absent: false };
  return { ok: true, email, key: email.toLowerCase() };
}

function isPerson(key: string): boolean {
  const domain = key.slice(key.lastIndexOf("@") + 1);
  return !NON_PERSON_DOMAINS.some((d) => domain === d || domain.endsWith(`.${d}`));
}

function optionalText(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  return v.trim() === "" ? undefined : v;
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
}

export function selectMeetings(events: readonly Event[] | readonly unknown[], ctx: SelectContext): Selection {
  assertContext(ctx);
  const userKey = ctx.grantEmail.trim().toLowerCase();
  const meetings: Meeting[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  const problems: SelectionProblem[] = [];
  const seen = new Set<string>();
  const skip = (reason: SkipReason): void => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
  };
  const malformed = (reason: string, eventId?: string): void => {
    skip("malformed");
    problems.push(eventId === undefined ? { reason } : { eventId, reason });
  };

  const list: readonly unknown[] = Array.isArray(events) ? events : [];
  if (!Array.isArray(events)) problems.push({ reason: "events is not an array" });

  for (const raw of list) {
    if (!isRecord(raw)) {
      malformed("event is not an object");
      continue;
    }
    const id = raw.id;
    // eslint-disable-next-line no-control-regex
    if (typeof id !== "string" || id.trim() === "" || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) {
      malformed("event id is missing or not a usable string");
      continue;
    }
    const when = parseWhen(raw.when);
    if (when.kind === "malformed") {
      malformed(when.reason, id);
      continue;
    }

    let start: number;
    let end: number;
    if (when.kind === "allday") {
      if (!ctx.includeAllDay) {
        if (markSeen(seen, id, `day:${when.startDay}`)) skip("all_day");
        continue;
      }
      try {
        const zone = ctx.zone as string;
        start = localDayWindow(zone, when.startDay).start;
        end = localDayWindow(zone, when.lastDay).end;
      } catch (e) {
        // Only a date at the edge of the calendar (9999-12-31) gets here.
        malformed(e instanceof InvalidDayError ? "all-day date out of range" : "all-day date unusable", id);
        continue;
      }
    } else {
      ({ start, end } = when);
    }
    if (!markSeen(seen, id, String(start))) continue; // same occurrence already seen on another page

    if (start < ctx.window.start || start >= ctx.window.end) {
      skip("outside_window");
      continue;
    }
    if (typeof raw.status === "string" && raw.status.toLowerCase() === "cancelled") {
      skip("cancelled");
      continue;
    }

    const participants = raw.participants ?? [];
    if (!Array.isArray(participants)) {
      malformed("participants is not an array", id);
      continue;
    }

    let userDeclined = false;
    let garbage = 0;
    const eventProblems: SelectionProblem[] = [];
    const declined = new Set<string>();
    const listed = new Set<string>();
    const entries: { key: string; email: string; name?: string }[] = [];
    participants.forEach((p: unknown, i: number) => {
      if (!isRecord(p)) {
        garbage++;
        eventProblems.push({ eventId: id, reason: `participant #${i} is not an object` });
        return;
      }
      const email = checkEmail(p.email);
      if (!email.ok) {
        if (!email.absent) {
          garbage++;
          eventProblems.push({ eventId: id, reason: `participant #${i} has an unusable email` });
        }
        return;
      }
      const saidNo = typeof p.status === "string" && p.status.toLowerCase() === "no";
      listed.add(email.key);
      if (email.key === userKey) {
        if (saidNo) userDeclined = true;
        return;
      }
      if (saidNo) declined.add(email.key);
      entries.push({ key: email.key, email: email.email, name: cleanName(p.name) });
    });
    if (userDeclined) {
      skip("declined_by_user");
      continue;
    }

    let organizer: EmailAddress | undefined;
    if (isRecord(raw.organizer)) {
      const email = checkEmail(raw.organizer.email);
      if (email.ok) {
        const name = cleanName(raw.organizer.name);
        organizer = name ? { name, email: email.email } : { email: email.email };
        if (email.key !== userKey && !listed.has(email.key)) entries.push({ key: email.key, email: email.email, name });
      }
    }

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

    if (recipients.length === 0) {
      if (garbage > 0) {
        skip("malformed");
        problems.push(...eventProblems, { eventId: id, reason: "no usable recipient left after dropping unusable participants" });
      } else {
        skip("no_other_participants");
      }
      continue;
    }
    problems.push(...eventProblems);

    const meeting: Meeting = {
      eventId: id,
      start,
      end,
      title: typeof raw.title === "string" ? raw.title : "",
      recipients,
      recurring:
        (typeof raw.masterEventId === "string" && raw.masterEventId !== "") ||
        (Array.isArray(raw.recurrence) && raw.recurrence.length > 0),
    };
    const location = optionalText(raw.location);
    if (location !== undefined) meeting.location = location;
    const url = conferencingUrl(raw.conferencing);
    if (url !== undefined) meeting.conferencingUrl = url;
    const description = optionalText(raw.description);
    if (description !== undefined) meeting.description = description;
    if (organizer) meeting.organizer = organizer;
    if (when.kind === "allday") meeting.allDay = true;
    meetings.push(meeting);
  }

  meetings.sort((a, b) => a.start - b.start || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  return { meetings, skipped, problems };
}

/** Records id+start; false when this occurrence was already seen. */
function markSeen(seen: Set<string>, id: string, start: string): boolean {
  const key = `${id}\u0000${start}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

