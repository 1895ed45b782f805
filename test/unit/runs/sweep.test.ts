import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { isSweepDue, sweepSettings } from "../../../src/runs/sweep.js";

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

  it("is not due for a run that finished within the sweep's hours already (it read the calendar then)", () => {
    const now = at("2026-12-02T22:30:00Z");
    expect(isSweepDue("Europe/Berlin", "2026-12-03", now, 3, at("2026-12-02T19:59:59Z"))).toBe(true);
    expect(isSweepDue("Europe/Berlin", "2026-12-03", now, 3, at("2026-12-02T20:00:00Z"))).toBe(false);
    expect(isSweepDue("Europe/Berlin", "2026-12-03", now, 3, at("2026-12-02T22:00:00Z"))).toBe(false);
  });
});

describe("sweepSettings: the sweep is on only without webhooks", () => {
  const env = { NYLAS_API_KEY: "k" };
  it("off when NYLAS_WEBHOOK_SECRET is set", () => {
    expect(sweepSettings(loadConfig({ ...env, NYLAS_WEBHOOK_SECRET: "whsec" }))).toBeUndefined();
  });
  it("on without it, with the defaults (3 h, 60 s) or the settings given", () => {
    expect(sweepSettings(loadConfig(env))).toEqual({ hoursBefore: 3, delayMs: 60_000 });
    expect(sweepSettings(loadConfig({ ...env, SWEEP_HOURS_BEFORE: "5", RERUN_DEBOUNCE_MS: "2000" }))).toEqual({
      hoursBefore: 5,
      delayMs: 2000,
    });
  });
  it("off with SWEEP_HOURS_BEFORE=0", () => {
    expect(sweepSettings(loadConfig({ ...env, SWEEP_HOURS_BEFORE: "0" }))).toBeUndefined();
  });
  it("bad values are refused with one line naming the variable", () => {
    expect(() => loadConfig({ ...env, SWEEP_HOURS_BEFORE: "-1" })).toThrow(
      /^Invalid configuration: SWEEP_HOURS_BEFORE must be a number >= 0$/,
    );
    expect(() => loadConfig({ ...env, SWEEP_HOURS_BEFORE: "24" })).toThrow(/SWEEP_HOURS_BEFORE must be a number <= 23/);
    expect(() => loadConfig({ ...env, RERUN_DEBOUNCE_MS: "soon" })).toThrow(/RERUN_DEBOUNCE_MS must be a whole number/);
    expect(() => loadConfig({ ...env, CANCEL_NOTICES: "maybe" })).toThrow(/CANCEL_NOTICES must be one of/);
  });
});
