import { describe, expect, it } from "vitest";
import { isSweepDue } from "../../../src/runs/sweep.js";

describe("isSweepDue: the second sweep runs a few hours before the grant's day begins", () => {
  // 2026-12-03 begins at 2026-12-02T23:00Z in Berlin.
  const at = (s: string) => new Date(s);
  it.each([
    ["2026-12-02T19:59:59Z", false],
    ["2026-12-02T20:00:00Z", true],
    ["2026-12-02T22:59:59Z", true],
    ["2026-12-02T23:00:00Z", false],
  ])("at %s: %s", (now, due) => {
    expect(isSweepDue("Europe/Berlin", "2026-12-03", at(now), 3)).toBe(due);
  });

  it("counts in the grant's zone, not UTC", () => {
    // The same day begins at 2026-12-03T05:00Z in New York.
    expect(isSweepDue("America/New_York", "2026-12-03", at("2026-12-02T22:00:00Z"), 3)).toBe(false);
    expect(isSweepDue("America/New_York", "2026-12-03", at("2026-12-03T02:00:00Z"), 3)).toBe(true);
  });
});
