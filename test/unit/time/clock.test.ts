import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { clockFrom, clockNow, parseInstant, startClock } from "../../../src/time/clock.js";

const base = { NYLAS_API_KEY: "nyk_secret_value_123" };

describe("the calendar clock", () => {
  afterEach(() => startClock(undefined));

  it("is the real clock unless started elsewhere", () => {
    const before = Date.now();
    const now = clockNow().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it("starts at CLOCK_START and runs on at real speed", () => {
    const realBefore = Date.now();
    startClock("2026-03-07T20:00:00Z");
    const t = clockNow().getTime() - Date.parse("2026-03-07T20:00:00Z");
    // Ahead of the start by no more than the real time that has passed since.
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThanOrEqual(Date.now() - realBefore);
    startClock(undefined);
    expect(Math.abs(clockNow().getTime() - Date.now())).toBeLessThan(1000 * 60);
  });

  it("clockFrom gives an independent clock (the sandbox's) starting at an instant", () => {
    const realBefore = Date.now();
    const now = clockFrom(Date.parse("2026-11-01T05:30:00Z"));
    const t = now() - Date.parse("2026-11-01T05:30:00Z");
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThanOrEqual(Date.now() - realBefore);
    // The process's calendar clock is untouched.
    expect(Math.abs(clockNow().getTime() - Date.now())).toBeLessThan(1000 * 60);
  });

  it.each([
    ["2026-03-07T20:00:00Z", "2026-03-07T20:00:00.000Z"],
    ["2026-03-07T20:00Z", "2026-03-07T20:00:00.000Z"],
    ["2026-03-07T15:00:00-05:00", "2026-03-07T20:00:00.000Z"],
    ["2026-03-08T01:45:00.250+05:45", "2026-03-07T20:00:00.250Z"],
  ])("reads %s as an instant", (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso);
  });

  it.each([
    "2026-03-07T20:00:00",
    "2026-03-07",
    "yesterday",
    "1772913600000",
    "2026-13-07T20:00:00Z",
    "2026-03-07 20:00:00Z",
    "",
  ])("refuses %j (no zone, no guessing)", (text) => {
    expect(parseInstant(text)).toBeUndefined();
    expect(() => startClock(text)).toThrow(RangeError);
  });
});

describe("CLOCK_START in the configuration", () => {
  it("is unset by default", () => {
    expect(loadConfig(base).CLOCK_START).toBeUndefined();
  });

  it("is taken in development and test", () => {
    expect(loadConfig({ ...base, CLOCK_START: "2026-03-07T20:00:00Z" }).CLOCK_START).toBe("2026-03-07T20:00:00Z");
    expect(loadConfig({ ...base, NODE_ENV: "test", CLOCK_START: "2026-03-07T20:00:00Z" }).CLOCK_START).toBe(
      "2026-03-07T20:00:00Z",
    );
  });

  it("is refused with NODE_ENV=production, in one line", () => {
    const load = () => loadConfig({ ...base, NODE_ENV: "production", CLOCK_START: "2026-03-07T20:00:00Z" });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      /^Invalid configuration: CLOCK_START is test-only and must be unset when NODE_ENV=production$/,
    );
    // Blank counts as unset, as for every setting.
    expect(loadConfig({ ...base, NODE_ENV: "production", CLOCK_START: " " }).CLOCK_START).toBeUndefined();
  });

  it("must name its zone", () => {
    expect(() => loadConfig({ ...base, CLOCK_START: "2026-03-07T20:00:00" })).toThrow(
      /^Invalid configuration: CLOCK_START must be an ISO 8601 instant with Z or an offset/,
    );
  });
});
