/**
 * The short notice that a meeting whose reminder went out was cancelled (or deleted). Pure, and
 * as careful with calendar text as the reminder (src/reminders/template.ts), whose words
 * (the catalogue, for `ctx.locale`) and day and time formats it uses.
 */
import { displayZone } from "../time/zone.js";
import type { Meeting } from "./meeting.js";
import {
  escapeHtml,
  htmlOpen,
  localeWording,
  oneLine,
  person,
  relativeDay,
  safeMarker,
  SUBJECT_MAX,
  truncate,
  type ComposedReminder,
  type ReminderContext,
} from "./template.js";

export function composeCancellation(meeting: Meeting, ctx: ReminderContext): ComposedReminder {
  const zoneName = displayZone(ctx.zone);
  const start = meeting.start;
  const wording = localeWording(ctx.locale, zoneName);
  const { tag, words, dates } = wording;
  const { abbr } = wording.zoneLabels(start);
  const fullTitle = oneLine(meeting.title) || words.noTitle;
  const dayWord = relativeDay(zoneName, start, ctx.now, words, dates, wording.day);
  // Subject: as the reminder's, the title gives way so that the day and time always fit.
  const suffix = words.at(dayWord, dates.time(start), abbr ?? zoneName);
  const prefix = words.cancelledPrefix;
  const subject = oneLine(
    `${prefix}${truncate(fullTitle, Math.max(SUBJECT_MAX - prefix.length - suffix.length, 8))}${suffix}`,
  );
  const line = words.cancelledLine(truncate(fullTitle, 1000), `${dates.when(start)} (${zoneName})`);
  const footer = words.noticeFooter(person({ email: ctx.senderEmail }) || undefined);
  const marker = safeMarker(ctx.marker);
  const text = [line, "", "--", footer, ...(marker ? [`${words.ref}: ${marker}`] : []), ""].join("\n");
  const html = [
    "<!DOCTYPE html>",
    `${htmlOpen(tag)}<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">`,
    `<p dir="auto">${escapeHtml(line)}</p>`,
    `<p style="color:#777;font-size:12px;margin-top:24px">${escapeHtml(footer)}` +
      `${marker ? `<br>${escapeHtml(words.ref)}: ${escapeHtml(marker)}` : ""}</p>`,
    "</body></html>",
    "",
  ].join("\n");
  return { subject, html, text };
}
