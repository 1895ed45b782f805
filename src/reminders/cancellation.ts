/**
 * The short notice that a meeting whose reminder went out was cancelled (or moved out of its
 * day). Pure, and as careful with calendar text as the reminder (src/reminders/template.ts).
 */
import { displayZone, zoneAbbreviation } from "../time/zone.js";
import { addDays, dayFromUnix, formatLocal, localDate } from "../time/window.js";
import type { Meeting } from "./meeting.js";
import {
  escapeHtml,
  oneLine,
  person,
  SUBJECT_MAX,
  truncate,
  type ComposedReminder,
  type ReminderContext,
} from "./template.js";

const NO_TITLE = "(no title)";

/** "today", "tomorrow" or "on Thu 3 Dec", relative to `now` (English, as the reminder's default). */
function relativeDay(zone: string, start: number, now: Date | undefined): string {
  if (!now) return "tomorrow";
  const day = dayFromUnix(zone, start);
  const today = localDate(zone, now);
  if (day === today) return "today";
  if (day === addDays(today, 1)) return "tomorrow";
  return `on ${formatLocal(zone, start, "EEE d MMM")}`;
}

export function composeCancellation(meeting: Meeting, ctx: ReminderContext): ComposedReminder {
  const zoneName = displayZone(ctx.zone);
  const start = meeting.start;
  const abbr = zoneAbbreviation(zoneName, start * 1000);
  const fullTitle = oneLine(meeting.title) || NO_TITLE;
  const dayWord = relativeDay(zoneName, start, ctx.now);
  const suffix = ` ${dayWord} at ${formatLocal(zoneName, start, "h:mm a")} ${abbr ?? zoneName}`;
  const prefix = "Cancelled: ";
  const subject = oneLine(
    `${prefix}${truncate(fullTitle, Math.max(SUBJECT_MAX - prefix.length - suffix.length, 8))}${suffix}`,
  );
  const when = `${formatLocal(zoneName, start, "EEEE d MMMM yyyy, HH:mm")} (${zoneName})`;
  const line = `The meeting you were reminded of is cancelled: ${truncate(fullTitle, 1000)}, ${when}.`;
  const sender = person({ email: ctx.senderEmail }) || "the organizer";
  const footer = `Automatic notice sent from the calendar of ${sender}.`;
  const marker = typeof ctx.marker === "string" ? ctx.marker.replace(/[^A-Za-z0-9._:@/+=-]/g, "").slice(0, 200) : "";
  const text = [line, "", "--", footer, ...(marker ? [`Ref: ${marker}`] : []), ""].join("\n");
  const html = [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">`,
    `<p dir="auto">${escapeHtml(line)}</p>`,
    `<p style="color:#777;font-size:12px;margin-top:24px">${escapeHtml(footer)}` +
      `${marker ? `<br>Ref: ${escapeHtml(marker)}` : ""}</p>`,
    "</body></html>",
    "",
  ].join("\n");
  return { subject, html, text };
}
