import { describe, expect, it } from "vitest";
import { mulberry32 } from "nylas-sandbox";
import { escapeHtml, localeWording, oneLine } from "../../../src/reminders/template.js";
import { dayFromUnix, formatLocal } from "../../../src/time/window.js";

// The replacements the fast paths skip, written out in full: the fast paths must answer the same.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const clean = (s: string) => s.replace(LONE, "\ufffd").replace(CONTROL, "");
const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const fullOneLine = (s: string) =>
  clean(s.replace(/\u0085/g, " "))
    .replace(/\s+/g, " ")
    .trim();
const fullEscape = (s: string) =>
  clean(s)
    .replace(/[\r\n\t]/g, " ")
    .replace(/[&<>"']/g, (c) => ESC[c]!);

// Plain letters most of the time, so that many strings take the fast path and many do not.
const TRICKY = [
  " ",
  "  ",
  "\t",
  "\n",
  "\r",
  "\u0085",
  "\u2028",
  "\u00a0",
  "\ufeff",
  "\u202e",
  "\u2066",
  "\u0000",
  "\u007f",
  "\u009f",
  "\ud83d\ude00",
  "\ud83d",
  "\ude00",
  "&",
  "<",
  ">",
  '"',
  "'",
  "é",
  "日",
];
function randomText(rand: () => number): string {
  let s = "";
  const n = Math.floor(rand() * 12);
  for (let i = 0; i < n; i++)
    s += rand() < 0.8 ? "abc Meet"[Math.floor(rand() * 8)] : TRICKY[Math.floor(rand() * TRICKY.length)];
  return s;
}
describe("the template's fast paths", () => {
  it("oneLine and escapeHtml answer as the full replacements do, for every kind of text", () => {
    const rand = mulberry32(13);
    let untouched = 0;
    for (let i = 0; i < 20_000; i++) {
      const s = randomText(rand);
      expect(oneLine(s)).toBe(fullOneLine(s));
      expect(escapeHtml(s)).toBe(fullEscape(s));
      if (fullEscape(s) === s) untouched++;
    }
    // Both kinds were tried: text the fast path returns as it is, and text it must change.
    expect(untouched).toBeGreaterThan(2_000);
    expect(untouched).toBeLessThan(18_000);
  });

  it("a wording's remembered dates and zone labels are what formatting them afresh gives", () => {
    const zone = "Asia/Kathmandu";
    const w = localeWording(undefined, zone);
    for (const start of [1_796_000_000, 1_796_003_600, 1_796_000_000, 1_711_846_800]) {
      expect(w.dates.when(start)).toBe(formatLocal(zone, start, "EEEE d MMMM yyyy, HH:mm"));
      expect(w.dates.time(start)).toBe(formatLocal(zone, start, "h:mm a"));
      expect(w.zoneLabels(start).offset).toBe(formatLocal(zone, start, "zzz"));
      expect(w.day(start)).toBe(dayFromUnix(zone, start));
    }
    const fr = localeWording("fr", "Europe/Paris");
    const at = 1_796_000_000;
    const fresh = new Intl.DateTimeFormat("fr", { timeZone: "Europe/Paris", hour: "numeric", minute: "2-digit" });
    expect(fr.dates.time(at)).toBe(fresh.format(at * 1000));
    expect(fr.dates.time(at)).toBe(fr.dates.time(at));
  });
});
