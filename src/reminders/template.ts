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
 *
 * Wording comes from the catalogue (src/reminders/catalogue.ts) for `ctx.locale`; dates and
 * times are formatted with Intl in that tag and the grant's zone, except for plain "en" (the
 * default), which keeps its own fixed English formats.
 */
import { displayZone, zoneAbbreviation } from "../time/zone.js";
import { dayFromUnix, formatLocal, localDate, addDays } from "../time/window.js";
import { resolveLocale, type Messages } from "./catalogue.js";
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
  /** BCP 47 tag the reminder is worded and dated in; unset or unusable: "en". */
  locale?: string;
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

// C0 and C1 controls, DEL, bidi embeddings/overrides/isolates. Tab/CR/LF are handled by callers.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

// Fast paths: most text needs none of the replacements below, and one test is cheaper than
// running each of them. Surrogates (paired too) and every control character take the long way.
// eslint-disable-next-line no-control-regex
const UNCLEAN_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex
const NOT_ONE_LINE_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]|[^\S ]| {2}|^ | $/;
// eslint-disable-next-line no-control-regex
const NOT_HTML_SAFE_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff&<>"']/;

/** Removes control characters and repairs broken UTF-16; keeps \t \r \n for the caller to decide. */
function clean(s: string): string {
  if (!UNCLEAN_RE.test(s)) return s;
  return s.replace(LONE_SURROGATE_RE, "\ufffd").replace(CONTROL_RE, "");
}

/** One line: every whitespace run (CR, LF, tab, U+2028/9, NEL, …) becomes one space. */
export function oneLine(s: unknown): string {
  if (typeof s !== "string") return "";
  if (!NOT_ONE_LINE_RE.test(s)) return s;
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
  if (!NOT_HTML_SAFE_RE.test(s)) return s;
  return clean(s)
    .replace(/[\r\n\t]/g, " ")
    .replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** The catalogue's own words as element content: only & < > need escaping there. */
function ownText(s: string): string {
  return s.replace(/[&<>]/g, (c) => HTML_ESCAPES[c] ?? c);
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

/** "45 min", "1 h", "1 h 30 min", "26 h" (in the catalogue's words); "" for zero or negative. */
export function formatDuration(
  seconds: number,
  words: Pick<Messages, "minutes" | "hours"> = resolveLocale("en").messages,
): string {
  const minutes = Math.round(seconds / 60);
  if (!Number.isFinite(minutes) || minutes <= 0) return "";
  if (minutes < 60) return words.minutes(minutes);
  return words.hours(Math.floor(minutes / 60), minutes % 60);
}

export function person(p: EmailAddress | undefined): string {
  if (!p) return "";
  const email = truncate(oneLine(p.email), FIELD_MAX);
  const name = truncate(oneLine(p.name), FIELD_MAX);
  return name && name.toLowerCase() !== email.toLowerCase() ? `${name} <${email}>` : email;
}

/** The dates and times of a reminder, in its locale and zone. */
export interface Dates {
  /** "Tue 24 Nov": a later day in the subject and intro. */
  shortDay(start: number): string;
  /** The clock time in the subject. */
  time(start: number): string;
  /** The long date and time of the "When" line. */
  when(start: number): string;
  /** The long date of an all-day event. */
  date(start: number): string;
  /** "15:00": a time in the moved note. */
  clock(start: number): string;
  /** "Thu 3 Dec, 15:00": a time in the moved note when the old and new starts are on different dates. */
  dayClock(start: number): string;
}

/** The default English formats, fixed so that English reminders never change with ICU data. */
const englishDates = (zone: string): Dates => ({
  shortDay: (s) => formatLocal(zone, s, "EEE d MMM"),
  time: (s) => formatLocal(zone, s, "h:mm a"),
  when: (s) => formatLocal(zone, s, "EEEE d MMMM yyyy, HH:mm"),
  date: (s) => formatLocal(zone, s, "EEEE d MMMM yyyy"),
  clock: (s) => formatLocal(zone, s, "HH:mm"),
  dayClock: (s) => formatLocal(zone, s, "EEE d MMM, HH:mm"),
});

function intlDates(tag: string, zone: string): Dates {
  const f = (options: Intl.DateTimeFormatOptions) => {
    const format = new Intl.DateTimeFormat(tag, { timeZone: zone, ...options });
    return (s: number) => format.format(s * 1000);
  };
  const longDate = { weekday: "long", day: "numeric", month: "long", year: "numeric" } as const;
  const clock = { hour: "2-digit", minute: "2-digit" } as const;
  return {
    shortDay: f({ weekday: "short", day: "numeric", month: "short" }),
    time: f({ hour: "numeric", minute: "2-digit" }),
    when: f({ ...longDate, ...clock }),
    date: f(longDate),
    clock: f(clock),
    dayClock: f({ weekday: "short", day: "numeric", month: "short", ...clock }),
  };
}

export interface Wording {
  tag: string;
  words: Messages;
  dates: Dates;
  /** The zone's labels at an instant: its abbreviation, and the "zzz" label of the When line. */
  zoneLabels(start: number): { abbr: string | undefined; offset: string };
  /** The instant's local date (YYYY-MM-DD) in the zone. */
  day(start: number): string;
}

// Building a locale's six Intl formatters costs about 20 times a whole English reminder;
// a worker sees few (locale, zone) pairs, so each is built once.
const wordings = new Map<string, Wording>();
const WORDINGS_MAX = 2000;
// Each wording also keeps what it formatted, by instant: a night's reminders in one zone
// start at few distinct times (on the hour, the half hour). Bounded over all wordings.
const REMEMBERED_MAX = 50_000;
let remembered = 0;

function byInstant<T>(format: (start: number) => T): (start: number) => T {
  const seen = new Map<number, T>();
  return (start) => {
    if (seen.has(start)) return seen.get(start)!;
    const out = format(start);
    if (++remembered > REMEMBERED_MAX) {
      // Every wording starts afresh; a wording in use keeps its map until it is dropped.
      wordings.clear();
      remembered = 0;
      seen.clear();
    }
    seen.set(start, out);
    return out;
  };
}

function rememberDates(dates: Dates): Dates {
  return {
    shortDay: byInstant(dates.shortDay),
    time: byInstant(dates.time),
    when: byInstant(dates.when),
    date: byInstant(dates.date),
    clock: byInstant(dates.clock),
    dayClock: byInstant(dates.dayClock),
  };
}

/** The words and date formats of a locale (plain "en": the fixed English formats), in `zone`. */
export function localeWording(raw: unknown, zone: string): Wording {
  const key = typeof raw === "string" || raw === undefined ? `${raw ?? ""}\u0000${zone}` : undefined;
  const cached = key === undefined ? undefined : wordings.get(key);
  if (cached) return cached;
  const locale = resolveLocale(raw);
  const dates = locale.tag === "en" ? englishDates(zone) : intlDates(locale.tag, zone);
  const wording: Wording = {
    tag: locale.tag,
    words: locale.messages,
    dates: rememberDates(dates),
    zoneLabels: byInstant((start) => ({
      abbr: zoneAbbreviation(zone, start * 1000),
      offset: formatLocal(zone, start, "zzz"), // abbreviation, else "GMT+5:45"
    })),
    day: byInstant((start) => dayFromUnix(zone, start)),
  };
  if (key !== undefined) {
    if (wordings.size >= WORDINGS_MAX) wordings.clear();
    wordings.set(key, wording);
  }
  return wording;
}

/** The subject's day word: "today", "tomorrow" or "on Tue 24 Nov" relative to `now` (unset: "tomorrow"). */
export function relativeDay(
  zone: string,
  start: number,
  now: Date | undefined,
  words: Messages,
  dates: Dates,
  dayOf: (start: number) => string = (s) => dayFromUnix(zone, s),
): string {
  if (!now) return words.tomorrow;
  const today = localDate(zone, now);
  const day = dayOf(start);
  if (day === today) return words.today;
  if (day === addDays(today, 1)) return words.tomorrow;
  return words.onDay(dates.shortDay(start));
}

/** The footer's reference: restricted to [A-Za-z0-9._:@/+=-], "" when unset. */
export function safeMarker(raw: unknown): string {
  return typeof raw === "string" ? raw.replace(/[^A-Za-z0-9._:@/+=-]/g, "").slice(0, 200) : "";
}

/** The `<html>` tag: plain for "en" (unchanged English), else with its lang. */
export function htmlOpen(tag: string): string {
  return `<html${tag === "en" ? "" : ` lang="${escapeHtml(tag)}"`}>`;
}

/**
 * "Moved: now at 15:00 (was 11:00)" (in `locale`'s words and formats, default English) for a
 * meeting a re-run found moved since its reminder, with the dates too when the old start was
 * on another local date; "" otherwise.
 */
export function movedNote(zone: string, meeting: Pick<Meeting, "start" | "movedFrom">, locale?: string): string {
  const from = meeting.movedFrom;
  if (from === undefined || !Number.isFinite(from)) return "";
  const { words, dates } = localeWording(locale, zone);
  const sameDay = dayFromUnix(zone, from) === dayFromUnix(zone, meeting.start);
  const format = sameDay ? dates.clock : dates.dayClock;
  return words.moved(format(meeting.start), format(from));
}

interface Row {
  label: string;
  text: string;
  href?: string;
}

export function composeReminder(meeting: Meeting, ctx: ReminderContext): ComposedReminder {
  const zoneName = displayZone(ctx.zone);
  const start = meeting.start;
  const wording = localeWording(ctx.locale, zoneName);
  const { tag, words, dates } = wording;
  const { abbr, offset: offsetLabel } = wording.zoneLabels(start);
  const zoneNote = offsetLabel === zoneName ? zoneName : `${zoneName}, ${offsetLabel}`;

  const fullTitle = oneLine(meeting.title) || words.noTitle;
  const title = truncate(fullTitle, TITLE_MAX);
  const dayWord = relativeDay(zoneName, start, ctx.now, words, dates, wording.day);

  // Subject: the title gives way so that the day and time always fit.
  const suffix = meeting.allDay ? words.allDaySuffix(dayWord) : words.at(dayWord, dates.time(start), abbr ?? zoneName);
  const prefix = words.subjectPrefix;
  const subject = oneLine(
    `${prefix}${truncate(fullTitle, Math.max(SUBJECT_MAX - prefix.length - suffix.length, 8))}${suffix}`,
  );

  const whenText = meeting.allDay
    ? words.allDayWhen(dates.date(start), zoneName)
    : `${dates.when(start)} (${zoneNote})`;
  const label = words.labels;
  const rows: Row[] = [{ label: label.when, text: whenText }];
  const days = Math.round((meeting.end - meeting.start) / 86_400);
  const duration = meeting.allDay
    ? days > 1
      ? words.days(days)
      : ""
    : formatDuration(meeting.end - meeting.start, words);
  if (duration) rows.push({ label: label.duration, text: duration });
  const location = truncate(oneLine(meeting.location), FIELD_MAX);
  if (location) {
    const href = safeHttpUrl(location);
    rows.push(href ? { label: label.where, text: href, href } : { label: label.where, text: location });
  }
  const join = safeHttpUrl(meeting.conferencingUrl);
  if (join && join !== safeHttpUrl(location)) rows.push({ label: label.join, text: join, href: join });
  const organizer = person(meeting.organizer);
  if (organizer) rows.push({ label: label.organizer, text: organizer });

  const sender = person({ email: ctx.senderEmail, ...(ctx.senderName ? { name: ctx.senderName } : {}) }) || undefined;
  const marker = safeMarker(ctx.marker);
  const intro = meeting.allDay ? words.introAllDay(dayWord) : words.intro(dayWord);
  const footer = words.footer(sender);
  const moved = movedNote(zoneName, meeting, ctx.locale);
  const unsubscribe = safeHttpUrl(ctx.unsubscribeUrl);

  const text = [
    intro,
    ...(moved ? [moved] : []),
    "",
    title,
    "",
    ...rows.map((r) => `${r.label}: ${r.text}`),
    "",
    "--",
    footer,
    ...(unsubscribe ? [`${words.unsubscribePrompt} ${words.unsubscribe}: ${unsubscribe}`] : []),
    ...(marker ? [`${words.ref}: ${marker}`] : []),
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
    `${htmlOpen(tag)}<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">`,
    `<p>${escapeHtml(intro)}</p>`,
    ...(moved ? [`<p><strong>${escapeHtml(moved)}</strong></p>`] : []),
    `<h2 style="font-size:18px;margin:12px 0" dir="auto">${escapeHtml(title)}</h2>`,
    `<table role="presentation" style="border-collapse:collapse">`,
    htmlRows,
    "</table>",
    `<p style="color:#777;font-size:12px;margin-top:24px">${escapeHtml(footer)}` +
      (unsubscribe
        ? `<br>${ownText(words.unsubscribePrompt)} ` +
          `<a href="${escapeHtml(unsubscribe)}">${ownText(words.unsubscribe)}</a>`
        : "") +
      `${marker ? `<br>${escapeHtml(words.ref)}: ${escapeHtml(marker)}` : ""}</p>`,
    "</body></html>",
    "",
  ].join("\n");

  return { subject, html, text };
}
