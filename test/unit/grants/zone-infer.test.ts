import { describe, expect, it } from "vitest";
import { inferZoneFromEvents } from "../../../src/grants/zone-infer.js";

const ME = "Ada@Example.com";
let n = 0;
function ev(zone: unknown, organizer: unknown = "ada@example.com", extra: Record<string, unknown> = {}) {
  n++;
  return {
    id: `e${n}`,
    organizer: typeof organizer === "string" ? { email: organizer } : organizer,
    when: {
      object: "timespan",
      startTime: 1_800_000_000 + n * 3600,
      endTime: 1_800_003_600 + n * 3600,
      startTimezone: zone,
    },
    ...extra,
  };
}

describe("inferring a grant's zone from its events", () => {
  it("takes the zone most of the user's own timed events start in", () => {
    const events = [ev("Asia/Tokyo"), ev("Asia/Tokyo"), ev("Europe/Paris"), ev("Asia/Tokyo")];
    expect(inferZoneFromEvents(events, ME)).toEqual({ zone: "Asia/Tokyo", votes: 3, of: 4 });
  });

  it("counts only events the user organises (case-insensitively)", () => {
    const events = [
      ev("Europe/Paris", "guest@example.com"),
      ev("Europe/Paris", "guest@example.com"),
      ev("America/Denver", " ADA@example.COM "),
      ev("Europe/Paris", null),
      ev("Europe/Paris", { name: "no email" }),
    ];
    expect(inferZoneFromEvents(events, ME)).toEqual({ zone: "America/Denver", votes: 1, of: 1 });
  });

  it("ignores all-day, cancelled, zoneless and invalid-zone events", () => {
    const events = [
      { id: "a", organizer: { email: ME }, when: { object: "date", date: "2026-12-01" } },
      {
        id: "b",
        organizer: { email: ME },
        when: { object: "datespan", startDate: "2026-12-01", endDate: "2026-12-02" },
      },
      ev("Europe/Paris", ME, { status: "cancelled" }),
      ev(undefined),
      ev(null),
      ev("+09:00"),
      ev("Not/AZone"),
      ev(42),
      { id: "c", organizer: { email: ME }, when: null },
      "garbage",
      null,
    ];
    expect(inferZoneFromEvents(events, ME)).toBeUndefined();
  });

  it("reads the zone of a point-in-time event", () => {
    const t = {
      id: "t1",
      organizer: { email: ME },
      when: { object: "time", time: 1_800_000_000, timezone: "Asia/Kolkata" },
    };
    expect(inferZoneFromEvents([t], ME)).toEqual({ zone: "Asia/Kolkata", votes: 1, of: 1 });
  });

  it("counts an event seen twice once, and one zone however it is spelled", () => {
    const e = ev("Europe/Paris");
    const events = [e, { ...e }, ev("europe/paris"), ev("Asia/Tokyo"), ev("Asia/Tokyo")];
    expect(inferZoneFromEvents(events, ME)).toEqual({ zone: "Asia/Tokyo", votes: 2, of: 4 });
    // Without the duplicate Paris would have won.
  });

  it("breaks a tie by name, whatever the order of the events", () => {
    const a = [ev("Europe/Paris"), ev("Asia/Tokyo"), ev("America/Denver"), ev("Asia/Tokyo"), ev("Europe/Paris")];
    const first = inferZoneFromEvents(a, ME);
    expect(first).toEqual({ zone: "Asia/Tokyo", votes: 2, of: 5 });
    expect(inferZoneFromEvents([...a].reverse(), ME)).toEqual(first);
  });

  it("has nothing to say without an email or events", () => {
    expect(inferZoneFromEvents([ev("Asia/Tokyo")], "")).toBeUndefined();
    expect(inferZoneFromEvents([], ME)).toBeUndefined();
  });
});
