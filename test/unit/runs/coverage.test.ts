import { describe, expect, it } from "vitest";
import { daysToReopen, isReopenedDayDue, MAX_REACH_BACK_S, runWindow } from "../../../src/runs/coverage.js";
import { localDayWindow } from "../../../src/time/window.js";

const at = (iso: string) => Date.parse(iso) / 1000;
const H = 3600;
const TOKYO = "Asia/Tokyo";
const LA = "America/Los_Angeles";
const D = "2026-12-10";

describe("a run's window", () => {
  const day = localDayWindow(LA, D); // [D 08:00Z, D+1 08:00Z)

  it("is its local day when nothing completed is near, or coverage is not earlier", () => {
    const eve = day.start - 6 * H;
    expect(runWindow(day, null, eve)).toEqual({ start: day.start, end: day.end });
    expect(runWindow(day, day.start, eve)).toEqual({ start: day.start, end: day.end }); // the previous day met it
    expect(runWindow(day, day.start + 7 * H, eve)).toEqual({ start: day.start, end: day.end }); // overlap
  });

  it("starts at the coverage end when that is earlier than midnight, never before the run starts", () => {
    const coverage = at("2026-12-09T15:00:00Z"); // Tokyo's D-1... ended here
    expect(runWindow(day, coverage, coverage - 2 * H)).toEqual({ start: coverage, end: day.end });
    const now = at("2026-12-10T01:00:00Z"); // LA's eve of D
    expect(runWindow(day, coverage, now)).toEqual({ start: now, end: day.end });
    // A run after its midnight reaches back no further than midnight.
    expect(runWindow(day, coverage, day.start + H)).toEqual({ start: day.start, end: day.end });
  });

  it("reaches back at most MAX_REACH_BACK_S", () => {
    const edge = day.start - MAX_REACH_BACK_S;
    expect(runWindow(day, edge, edge - H).start).toBe(edge);
    expect(runWindow(day, edge - 1, edge - H).start).toBe(day.start);
    const weekOff = day.start - 7 * 24 * H;
    expect(runWindow(day, weekOff, weekOff).start).toBe(day.start);
    // The largest shift between two zones' same label, plus a DST hour, fits.
    const kiritimati = localDayWindow("Pacific/Kiritimati", D);
    const baker = localDayWindow("Etc/GMT+12", D);
    expect(baker.start - kiritimati.start).toBe(26 * H);
    expect(MAX_REACH_BACK_S).toBeGreaterThanOrEqual(26 * H);
  });

  it("keeps consecutive days of one zone tiling, DST days included", () => {
    for (const [zone, d] of [
      ["America/New_York", "2026-03-08"],
      ["America/Havana", "2026-03-08"],
      ["Europe/London", "2026-10-25"],
    ] as const) {
      const prev = localDayWindow(zone, prevDay(d));
      const w = runWindow(localDayWindow(zone, d), prev.end, prev.end - 6 * H);
      expect(w.start).toBe(prev.end);
    }
  });
});

function prevDay(d: string): string {
  const t = Date.parse(`${d}T00:00:00Z`) - 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

describe("which completed days reopen when the zone changes", () => {
  const tokyo = (day: string, reopened = false) => ({ day, windowEnd: localDayWindow(TOKYO, day).end, reopened });
  const la = (day: string) => ({ day, windowEnd: localDayWindow(LA, day).end, reopened: false });

  it("east → west: the day whose new end lies past the coverage, until that end passes", () => {
    const runs = [tokyo("2026-12-09"), tokyo(D)];
    const changeAt = at("2026-12-09T12:00:00Z"); // after Tokyo ran D on its eve
    expect(daysToReopen(runs, LA, changeAt)).toEqual([D]);
    // Even while LA's D is under way, until it ends.
    expect(daysToReopen(runs, LA, localDayWindow(LA, D).end - 1)).toEqual([D]);
    expect(daysToReopen(runs, LA, localDayWindow(LA, D).end)).toEqual([]);
    // Once D is reopened, what it covered in Tokyo stays covered: D-1 is not reopened after it.
    expect(daysToReopen([tokyo("2026-12-09"), tokyo(D, true)], LA, changeAt)).toEqual([]);
  });

  it("east → west after two Tokyo runs: only the day the coverage does not reach", () => {
    const runs = [tokyo(D), tokyo("2026-12-11")];
    // Tokyo's D+1 covers to D+1 15:00Z, past LA's D end (D+1 08:00Z): D is covered.
    expect(daysToReopen(runs, LA, at("2026-12-10T10:00:00Z"))).toEqual(["2026-12-11"]);
  });

  it("west → east: nothing", () => {
    expect(daysToReopen([la("2026-12-09"), la(D)], TOKYO, at("2026-12-10T03:00:00Z"))).toEqual([]);
  });

  it("the same zone, or none completed: nothing", () => {
    expect(daysToReopen([tokyo(D)], TOKYO, at("2026-12-09T12:00:00Z"))).toEqual([]);
    expect(daysToReopen([], LA, at("2026-12-09T12:00:00Z"))).toEqual([]);
  });

  it("across a DST change in the new zone", () => {
    // Europe/Berlin → America/New_York on the night New York springs forward (23-hour day).
    const d = "2026-03-08";
    const runs = [{ day: d, windowEnd: localDayWindow("Europe/Berlin", d).end, reopened: false }];
    expect(daysToReopen(runs, "America/New_York", at("2026-03-07T20:00:00Z"))).toEqual([d]);
  });
});

describe("when a reopened day is due", () => {
  it("from its eve's send hour in the zone until the day ends", () => {
    const day = localDayWindow(LA, D);
    expect(isReopenedDayDue(LA, 18, D, new Date((day.start - 7 * H) * 1000))).toBe(false); // D-1 17:00 LA
    expect(isReopenedDayDue(LA, 18, D, new Date((day.start - 6 * H) * 1000))).toBe(true); // D-1 18:00 LA
    expect(isReopenedDayDue(LA, 18, D, new Date((day.start + 3 * H) * 1000))).toBe(true); // D 03:00 LA
    expect(isReopenedDayDue(LA, 18, D, new Date((day.end - 1) * 1000))).toBe(true);
    expect(isReopenedDayDue(LA, 18, D, new Date(day.end * 1000))).toBe(false); // over
    expect(isReopenedDayDue(LA, 0, D, new Date((day.start - 1) * 1000))).toBe(true);
  });
});
