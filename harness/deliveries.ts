/**
 * Compares what reached the (sandbox) mailboxes with what should have: every expected
 * reminder sent exactly once, to exactly its recipients, and nothing else. Pure; the demo,
 * the integration tests and the chaos suite all judge a batch with it.
 *
 * A sent message is tied to a meeting by what it says, never by the worker's own ledger
 * (a worker bug in the ledger would otherwise hide in the check): the grant it was sent
 * from, and its subject, which names the meeting's title, its day and its local start time,
 * "Reminder: <title> tomorrow at 9:00 AM CET" (see src/reminders/template.ts). Recipients
 * then decide between meetings the subject cannot tell apart, and are compared with the
 * expected ones (case-insensitively). Times are computed here with Intl, not with the
 * worker's zone code.
 *
 * A meeting whose guests are hidden from each other (`individual`) is reminded one message
 * per recipient, each to that recipient alone. Across all grants, nobody gets two reminders
 * of one meeting (same iCalendar UID and start), however many grants hold it.
 */

export interface ExpectedDelivery {
  grantId: string;
  eventId: string;
  /** The meeting's title as the calendar holds it. */
  title: string;
  /** Unix seconds. */
  start: number;
  /** IANA zone of the grant's day: the subject shows the start's day and time in it. */
  zone: string;
  recipients: string[];
  /** The meeting's iCalendar UID, the same on every calendar holding it: for "one reminder per person". */
  icalUid?: string;
  /** Guests hidden from each other: one message per recipient, each to that recipient alone. */
  individual?: boolean;
}

export interface ObservedMessage {
  grantId: string;
  messageId: string;
  to: string[];
  subject: string;
  /** When the mailbox took the send (epoch ms): what "today" and "tomorrow" are relative to. */
  sentAtMs: number;
}

/** A message as the sandbox keeps it (its control API's `sentMessages()`), for the check. */
export function observedMessage(m: {
  grantId: string;
  messageId: string;
  to: string[];
  subject: string;
  at: number;
}): ObservedMessage {
  return { grantId: m.grantId, messageId: m.messageId, to: m.to, subject: m.subject, sentAtMs: m.at };
}

export interface DeliveryReport {
  ok: boolean;
  expected: number;
  delivered: number;
  missing: ExpectedDelivery[];
  duplicates: { key: string; count: number }[];
  unexpected: ObservedMessage[];
  wrongRecipients: { key: string; expected: string[]; got: string[] }[];
  /** People reminded more than once of one meeting (by ical_uid and start), over all grants. */
  twicePerPerson: { icalUid: string; start: number; recipient: string; count: number; grantIds: string[] }[];
}

/**
 * A message is composed a moment before the mailbox takes it: a "tomorrow" written just
 * before the grant's midnight may be stored just after it.
 */
export const COMPOSE_SLACK_MS = 10 * 60_000;

const keyOf = (grantId: string, eventId: string, start: number) => `${grantId}|${eventId}|${start}`;
const norm = (emails: string[]) => [...new Set(emails.map((e) => e.trim().toLowerCase()))].sort();
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

// What a subject cannot carry: C0/C1 controls (other than the whitespace folded into spaces),
// bidi embeddings, overrides and isolates, and the BOM.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A calendar title as a subject line shows it: one line, nothing invisible, never empty. */
function shownTitle(title: string): string {
  const s = title
    .replace(/\u0085/g, " ")
    .replace(LONE_SURROGATE, "\ufffd")
    .replace(INVISIBLE, "");
  return oneLine(s) || "(no title)";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const formats = new Map<string, Intl.DateTimeFormat>();

interface Local {
  /** YYYY-MM-DD */
  date: string;
  /** "Tue 24 Nov", as a subject names a day that is neither today nor tomorrow. */
  label: string;
  /** "9:00 AM" */
  time: string;
}

/** The wall clock of `ms` in `zone`, from Intl. */
function local(zone: string, ms: number): Local {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      weekday: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formats.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(ms)) p[part.type] = part.value;
  const [y, mo, d, h] = [Number(p.year), Number(p.month), Number(p.day), Number(p.hour) % 24];
  const date = `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  const time = `${h % 12 || 12}:${p.minute} ${h < 12 ? "AM" : "PM"}`;
  return { date, label: `${p.weekday} ${d} ${MONTHS[mo - 1]}`, time };
}

function nextDay(date: string): string {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

interface Subject {
  title: string;
  day: string;
  time: string;
}

// "Reminder: <title> <today | tomorrow | on Tue 24 Nov> at <9:00 AM> <zone>"; the title is the
// longest prefix, so a title that itself says "tomorrow at …" still parses.
const DAY = String.raw`today|tomorrow|on [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}`;
const SUBJECT_RE = new RegExp(String.raw`^Reminder: (.+) (${DAY}) at (\d{1,2}:\d{2} [AP]M) \S+$`);

function parseSubject(subject: string): Subject | undefined {
  const m = SUBJECT_RE.exec(oneLine(subject));
  return m ? { title: m[1]!, day: m[2]!, time: m[3]! } : undefined;
}

/** The subject shows the title whole, or shortened with an ellipsis so the time fits. */
function titleMatches(shown: string, title: string): boolean {
  const full = shownTitle(title);
  if (shown === full) return true;
  return shown.endsWith("…") && shown.length > 1 && full.startsWith(shown.slice(0, -1).trimEnd());
}

/** Whether the subject's day names the meeting's local date, for a message sent at `sentAtMs`. */
function dayMatches(day: string, start: Local, zone: string, sentAtMs: number): boolean {
  if (day.startsWith("on ")) return day.slice(3) === start.label;
  // Sent on the grant's local day D (or composed on it a moment before): today = D, tomorrow = D + 1.
  const sentOn = [local(zone, sentAtMs).date, local(zone, sentAtMs - COMPOSE_SLACK_MS).date];
  return sentOn.some((d) => (day === "today" ? d : nextDay(d)) === start.date);
}

interface Candidate {
  e: ExpectedDelivery;
  key: string;
  start: Local;
  recipients: string[];
  joined: string;
  individual: boolean;
}

/** For an individual meeting, each recipient gets their own message: fresh per recipient. */
function fresh(c: Candidate, to: string[], got: Map<string, ObservedMessage[]>): boolean {
  const ms = got.get(c.key);
  if (!ms) return true;
  if (!c.individual || to.length !== 1) return false;
  return !ms.some((m) => norm(m.to).includes(to[0]!));
}

function fits(c: Candidate, to: string[]): boolean {
  return c.individual ? to.length === 1 && c.recipients.includes(to[0]!) : c.joined === to.join(",");
}

/** Problems with the messages of one individual meeting: group sends, people twice, people missed or added. */
function individualProblems(key: string, exp: string[], ms: ObservedMessage[], report: DeliveryReport): void {
  const per = new Map<string, number>();
  for (const m of ms) {
    const to = norm(m.to);
    if (to.length !== 1) report.wrongRecipients.push({ key, expected: exp, got: to });
    for (const r of to) per.set(r, (per.get(r) ?? 0) + 1);
  }
  const most = Math.max(...per.values());
  if (most > 1) report.duplicates.push({ key, count: most });
  const union = [...per.keys()].sort();
  if (union.join(",") !== exp.join(",")) report.wrongRecipients.push({ key, expected: exp, got: union });
}

/** Every (meeting, person) reached more than once, over all grants' recognised messages. */
function twicePerPerson(got: Map<string, ObservedMessage[]>, want: Map<string, ExpectedDelivery>) {
  const seen = new Map<
    string,
    { icalUid: string; start: number; recipient: string; count: number; grants: Set<string> }
  >();
  for (const [key, ms] of got) {
    const e = want.get(key)!;
    if (e.icalUid === undefined) continue;
    for (const m of ms) {
      for (const r of norm(m.to)) {
        const k = `${e.icalUid}|${e.start}|${r}`;
        const v = seen.get(k) ?? { icalUid: e.icalUid, start: e.start, recipient: r, count: 0, grants: new Set() };
        v.count++;
        v.grants.add(m.grantId);
        seen.set(k, v);
      }
    }
  }
  return [...seen.values()]
    .filter((v) => v.count > 1)
    .map(({ grants, ...v }) => ({ ...v, grantIds: [...grants].sort() }));
}

export function compareDeliveries(expected: ExpectedDelivery[], observed: ObservedMessage[]): DeliveryReport {
  const byGrant = new Map<string, Candidate[]>();
  const want = new Map<string, ExpectedDelivery>();
  for (const e of expected) {
    const key = keyOf(e.grantId, e.eventId, e.start);
    want.set(key, e);
    const list = byGrant.get(e.grantId) ?? [];
    const recipients = norm(e.recipients);
    const start = local(e.zone, e.start * 1000);
    list.push({ e, key, start, recipients, joined: recipients.join(","), individual: e.individual === true });
    byGrant.set(e.grantId, list);
  }

  const got = new Map<string, ObservedMessage[]>();
  const unexpected: ObservedMessage[] = [];
  for (const m of observed) {
    const s = parseSubject(m.subject);
    const recognised = (c: Candidate, s: Subject) =>
      c.start.time === s.time && titleMatches(s.title, c.e.title) && dayMatches(s.day, c.start, c.e.zone, m.sentAtMs);
    const candidates = s ? (byGrant.get(m.grantId) ?? []).filter((c) => recognised(c, s)) : [];
    if (candidates.length === 0) {
      unexpected.push(m);
      continue;
    }
    // Meetings the subject cannot tell apart: prefer one not yet delivered (to this recipient,
    // for an individual one), then the one whose recipients are these.
    const to = norm(m.to);
    const unsent = candidates.filter((c) => fresh(c, to, got));
    const pool = unsent.length > 0 ? unsent : candidates;
    const c = pool.find((x) => fits(x, to)) ?? pool[0]!;
    got.set(c.key, [...(got.get(c.key) ?? []), m]);
  }

  const report: DeliveryReport = {
    ok: false,
    expected: want.size,
    delivered: got.size,
    missing: [...want.entries()].filter(([k]) => !got.has(k)).map(([, e]) => e),
    duplicates: [],
    unexpected,
    wrongRecipients: [],
    twicePerPerson: twicePerPerson(got, want),
  };
  for (const [key, ms] of got) {
    const e = want.get(key)!;
    const exp = norm(e.recipients);
    if (e.individual) {
      individualProblems(key, exp, ms, report);
      continue;
    }
    if (ms.length > 1) report.duplicates.push({ key, count: ms.length });
    for (const m of ms) {
      const to = norm(m.to);
      if (to.join(",") !== exp.join(",")) report.wrongRecipients.push({ key, expected: exp, got: to });
    }
  }
  report.ok =
    report.missing.length === 0 &&
    report.duplicates.length === 0 &&
    report.unexpected.length === 0 &&
    report.wrongRecipients.length === 0 &&
    report.twicePerPerson.length === 0;
  return report;
}

/** One line per problem kind, for logs and the demo's summary. */
export function describeReport(r: DeliveryReport): string {
  if (r.ok) return `all ${r.expected} expected reminders sent exactly once, nothing else`;
  const parts = [`${r.delivered}/${r.expected} expected reminders delivered`];
  if (r.missing.length) parts.push(`${r.missing.length} missing`);
  if (r.duplicates.length) parts.push(`${r.duplicates.length} sent more than once`);
  if (r.unexpected.length) parts.push(`${r.unexpected.length} unexpected messages`);
  if (r.wrongRecipients.length) parts.push(`${r.wrongRecipients.length} with wrong recipients`);
  if (r.twicePerPerson.length)
    parts.push(`${r.twicePerPerson.length} person(s) reminded more than once of one meeting`);
  return parts.join(", ");
}
