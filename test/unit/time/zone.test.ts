import { describe, expect, it } from "vitest";
import { offsetMs, wallClockMs, zoneAbbreviation } from "../../../src/time/zone.js";

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** Reference offset straight from Intl's "GMT+05:45" label, independent of zone.ts. */
function referenceOffset(zone: string, ms: number): number {
  let f = offsetFormats.get(zone);
  if (!f)
    offsetFormats.set(zone, (f = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })));
  const label = f.formatToParts(ms).find((p) => p.type === "timeZoneName")!.value;
  const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(label);
  if (!m) throw new Error(`unexpected offset label ${label}`);
  if (!m[1]) return 0;
  const v = Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000 + Number(m[4] ?? 0) * 1000;
  return m[1] === "-" ? -v : v;
}

function referenceAbbreviation(zone: string, ms: number): string | undefined {
  for (const locale of ["en-US", "en-GB", "en-AU", "en-IN", "en-NZ", "en-CA"]) {
    const name = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" })
      .formatToParts(ms)
      .find((p) => p.type === "timeZoneName")?.value;
    if (name && /^[A-Z]{2,6}$/.test(name)) return name;
  }
  return undefined;
}

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const END = Date.UTC(2028, 0, 1);

describe("zone offsets (cached per steady UTC hour)", () => {
  it(
    "agree with Intl every 15 minutes of every transition day of 2026–2027, in every zone",
    { timeout: 120_000 },
    () => {
      let transitions = 0;
      let checked = 0;
      for (const zone of Intl.supportedValuesOf("timeZone")) {
        let prev = referenceOffset(zone, START);
        for (let day = START + DAY; day <= END; day += DAY) {
          const cur = referenceOffset(zone, day);
          if (cur === prev) continue;
          prev = cur;
          transitions++;
          // The day before the change was seen: walk it in 15-minute steps, plus the seconds
          // on either side of each quarter hour.
          for (let t = day - DAY; t <= day; t += 900_000) {
            for (const at of [t - 1000, t]) {
              expect(offsetMs(zone, at), `${zone} ${new Date(at).toISOString()}`).toBe(referenceOffset(zone, at));
              expect(wallClockMs(zone, at)).toBe(at + referenceOffset(zone, at));
              checked++;
            }
          }
        }
      }
      expect(transitions).toBeGreaterThan(300);
      expect(checked).toBeGreaterThan(transitions * 190);
    },
  );

  it("gives the abbreviation in force on both sides of a change, from a warm cache", () => {
    // Warm the cache with the hour before New York's spring change, then cross it.
    const change = Date.parse("2026-03-08T07:00:00Z");
    expect(zoneAbbreviation("America/New_York", change - 1000)).toBe("EST");
    expect(zoneAbbreviation("America/New_York", change - 1000)).toBe("EST");
    expect(zoneAbbreviation("America/New_York", change)).toBe("EDT");
    expect(zoneAbbreviation("America/New_York", change + 1000)).toBe("EDT");
    for (const zone of [
      "Europe/London",
      "Australia/Lord_Howe",
      "Asia/Kathmandu",
      "America/St_Johns",
      "Pacific/Chatham",
      "Europe/Dublin",
    ]) {
      for (let t = START; t < END; t += 7 * DAY + 3_599_000)
        expect(zoneAbbreviation(zone, t), `${zone} ${t}`).toBe(referenceAbbreviation(zone, t));
    }
  });
});
