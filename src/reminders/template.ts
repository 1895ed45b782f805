/**
 * The reminder message: subject, HTML and plain text for one meeting. Pure and self-contained.
 *
 * Every value that came from a calendar is hostile until shown otherwise:
 * - subject: one line (CR/LF/tabs/separators → space), no control or bidi-override characters,
 *   at most SUBJECT_MAX UTF-16 units with the title shortened (never mid-emoji) so the time stays;
 * - HTML: every value escaped (& < > " '), control/bidi-override characters removed, value
 *   elements get dir="auto" so RTL titles render correctly without reordering their neighbours;
 * - text: control characters removed (our own "\n" line breaks are the only ones);
 * - links: only absolute http(s) URLs without embedded credentials become links; anything else
 *   (javascript:, data:, mailto:, relative) is left out entirely.
 * The event description is deliberately not included: it is provider HTML, often long, and may
 * hold dial-in secrets or private notes the user never meant to re-send.
 */
import { displayZone, zoneAbbreviation } from "../time/zone.js";
import { dayFromUnix, formatLocal, localDate, addDays } from "../time/window.js";
import type { EmailAddress, Meeting } from "./meeting.js";

export interface ReminderContext {
  /** The grant's IANA zone: times are shown in it. */
  zone: string;
  senderEmail: string;
  senderName?: string;
  /** Opaque reference printed in the footer (e.g. the ledger id), restricted to [A-Za-z0-9._:@/+=-]. */
  marker?: string;
  /** When set, the subject says "today"/"tomorrow"/"on Tue 24 Nov" relative to it; default "tomorrow". */
  now?: Date;
  /** The recipient's unsubscribe page (src/optout/message.ts): a footer line links to it. */
  unsubscribeUrl?: string;
}

export interface ComposedReminder {
  subject: string;
  html: string;
  text: string;
}

export const SUBJECT_MAX = 200;
const TITLE_MAX = 1000;
const FIELD_MAX = 500;
const URL_MAX = 2048;
const NO_TITLE = "(no title)";

// C0 and C1 controls, DEL, bidi embeddings/overrides/isolates. Tab/CR/LF are handled by callers.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Removes control characters and repairs broken UTF-16; keeps \t \r \n for the caller to decide. */
function clean(s: string): string {
  return s.replace(LONE_SURROGATE_RE, "\ufffd").replace(CONTROL_RE, "");
}

/** One line: every whitespace run (CR, LF, tab, U+2028/9, NEL, …) becomes one space. */
export function oneLine(s: unknown): string {
  if (typeof s !== "string") return "";
  return clean(s.replace(/\u0085/g, " "))
    .replace(/\s+/g, " ")
    .trim();
}

/** Shortens to at most `max` UTF-16 units including the ellipsis, on a grapheme boundary. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let out = "";
  for (const { segment } of segmenter.segment(s)) {
    if (out.length + segment.length > max - 1) break;
    out += segment;
  }
  return `${out.trimEnd()}…`;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text → HTML text/attribute content: controls removed, line breaks flattened, & < > " ' escaped. */
export function escapeHtml(s: string): string {
  return clean(s)
    .replace(/[\r\n\t]/g, " ")
    .replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Normalised absolute http(s) URL, or undefined for anything else. */
export function safeHttpUrl(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  const s = raw.trim();
  // Whitespace or controls inside would be silently dropped by the URL parser ("java\nscript:").
  // eslint-disable-next-line no-control-regex
  if (!s || s.length > URL_MAX || /[\s\u0000-\u001f\u007f-\u009f]/.test(s)) return undefined;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.username || url.password || !url.hostname) return undefined;
  return url.href;
}

/** "45 min", "1 h", "1 h 30 min", "26 h"; "" for zero or negative. */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (!Number.isFinite(minutes) || minutes <= 0) return "";
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

function person(p: EmailAddress | undefined): string {
  if (!p) return "";
  const email = truncate(oneLine(p.email), FIELD_MAX);
  const name = truncate(oneLine(p.name), FIELD_MAX);
  return name && name.toLowerCase() !== email.toLowerCase() ? `${name} <${email}>` : email;
}

function relativeDay(zone: string, start: number, now: Date | undefined): string {
  if (!now) return "tomorrow";
  const day = dayFromUnix(zone, start);
  const today = localDate(zone, now);
  if (day === today) return "today";
  if (day === addDays(today, 1)) return "tomorrow";
  return `on ${formatLocal(zone, start, "EEE d MMM")}`;
}

interface Row {
  label: string;
  text: string;
  href?: string;
}

export function composeReminder(meeting: Meeting, ctx: ReminderContext): ComposedReminder {
  const zoneName = displayZone(ctx.zone);
  const start = meeting.start;
  const abbr = zoneAbbreviation(zoneName, start * 1000);
  const offsetLabel = formatLocal(zoneName, start, "zzz"); // abbreviation, else "GMT+5:45"
  const zoneNote = offsetLabel === zoneName ? zoneName : `${zoneName}, ${offsetLabel}`;

  const fullTitle = oneLine(meeting.title) || NO_TITLE;
  const title = truncate(fullTitle, TITLE_MAX);
  const dayWord = relativeDay(zoneName, start, ctx.now);

  // Subject: the title gives way so that the day and time always fit.
  const suffix = meeting.allDay
    ? ` ${dayWord} (all day)`
    : ` ${dayWord} at ${formatLocal(zoneName, start, "h:mm a")} ${abbr ?? zoneName}`;
  const prefix = "Reminder: ";
  const subject = oneLine(
    `${prefix}${truncate(fullTitle, Math.max(SUBJECT_MAX - prefix.length - suffix.length, 8))}${suffix}`,
  );

  const whenText = meeting.allDay
    ? `${formatLocal(zoneName, start, "EEEE d MMMM yyyy")}, all day (${zoneName})`
    : `${formatLocal(zoneName, start, "EEEE d MMMM yyyy, HH:mm")} (${zoneNote})`;
  const rows: Row[] = [{ label: "When", text: whenText }];
  const duration = meeting.allDay
    ? Math.round((meeting.end - meeting.start) / 86_400) > 1
      ? `${Math.round((meeting.end - meeting.start) / 86_400)} days`
      : ""
    : formatDuration(meeting.end - meeting.start);
  if (duration) rows.push({ label: "Duration", text: duration });
  const location = truncate(oneLine(meeting.location), FIELD_MAX);
  if (location) {
    const href = safeHttpUrl(location);
    rows.push(href ? { label: "Where", text: href, href } : { label: "Where", text: location });
  }
  const join = safeHttpUrl(meeting.conferencingUrl);
  if (join && join !== safeHttpUrl(location)) rows.push({ label: "Join", text: join, href: join });
  const organizer = person(meeting.organizer);
  if (organizer) rows.push({ label: "Organizer", text: organizer });

  const sender =
    person({ email: ctx.senderEmail, ...(ctx.senderName ? { name: ctx.senderName } : {}) }) || "the organizer";
  const marker = typeof ctx.marker === "string" ? ctx.marker.replace(/[^A-Za-z0-9._:@/+=-]/g, "").slice(0, 200) : "";
  const intro = meeting.allDay
    ? `Reminder: you have an all-day event ${dayWord}.`
    : `Reminder: you have a meeting ${dayWord}.`;
  const footer = `Automatic reminder sent from the calendar of ${sender}.`;
  const unsubscribe = safeHttpUrl(ctx.unsubscribeUrl);

  const text = [
    intro,
    "",
    title,
    "",
    ...rows.map((r) => `${r.label}: ${r.text}`),
    "",
    "--",
    footer,
    ...(unsubscribe ? [`Don't want these reminders? Unsubscribe: ${unsubscribe}`] : []),
    ...(marker ? [`Ref: ${marker}`] : []),
    "",
  ].join("\n");

  const cell = "padding:4px 12px 4px 0;vertical-align:top";
  const htmlRows = rows
    .map((r) => {
      const value = r.href
        ? `<a href="${escapeHtml(r.href)}" rel="noopener noreferrer">${escapeHtml(r.text)}</a>`
        : escapeHtml(r.text);
      const label = `<td style="${cell};color:#555">${escapeHtml(r.label)}</td>`;
      return `<tr>${label}<td style="${cell}" dir="auto">${value}</td></tr>`;
    })
    .join("\n");
  const html = [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">`,
    `<p>${escapeHtml(intro)}</p>`,
    `<h2 style="font-size:18px;margin:12px 0" dir="auto">${escapeHtml(title)}</h2>`,
    `<table role="presentation" style="border-collapse:collapse">`,
    htmlRows,
    "</table>",
    `<p style="color:#777;font-size:12px;margin-top:24px">${escapeHtml(footer)}` +
      (unsubscribe ? `<br>Don't want these reminders? <a href="${escapeHtml(unsubscribe)}">Unsubscribe</a>` : "") +
      `${marker ? `<br>Ref: ${escapeHtml(marker)}` : ""}</p>`,
    "</body></html>",
    "",
  ].join("\n");

  return { subject, html, text };
}
