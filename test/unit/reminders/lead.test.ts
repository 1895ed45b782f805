import { describe, expect, it } from "vitest";
import { isStarted, splitByLead } from "../../../src/reminders/lead.js";

const NOW = 1_790_000_000;
const LEAD = 15 * 60;

describe("isStarted", () => {
  it.each([
    ["far ahead", NOW + 3600, LEAD, false],
    ["exactly the lead away: still due", NOW + LEAD, LEAD, false],
    ["a second inside the lead", NOW + LEAD - 1, LEAD, true],
    ["starts now", NOW, LEAD, true],
    ["already began", NOW - 60, LEAD, true],
    ["lead 0, starts now: due", NOW, 0, false],
    ["lead 0, began a second ago", NOW - 1, 0, true],
  ])("%s", (_n, start, lead, expected) => {
    expect(isStarted(start, NOW, lead)).toBe(expected);
  });
});

describe("splitByLead", () => {
  it("splits into due and started, keeping order and the meetings themselves", () => {
    const ms = [
      { id: "past", start: NOW - 86_400 },
      { id: "soon", start: NOW + 60 },
      { id: "later", start: NOW + 3600 },
      { id: "edge", start: NOW + LEAD },
    ];
    const r = splitByLead(ms, NOW, LEAD);
    expect(r.due.map((m) => m.id)).toEqual(["later", "edge"]);
    expect(r.started.map((m) => m.id)).toEqual(["past", "soon"]);
    expect(r.due[0]).toBe(ms[2]);
  });

  it("a backfill of a past day: everything is started", () => {
    const r = splitByLead([{ start: NOW - 7200 }, { start: NOW - 3600 }], NOW, 0);
    expect(r).toEqual({ due: [], started: [{ start: NOW - 7200 }, { start: NOW - 3600 }] });
  });

  it("nothing in, nothing out", () => {
    expect(splitByLead([], NOW, LEAD)).toEqual({ due: [], started: [] });
  });
});
