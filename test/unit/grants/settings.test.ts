import { describe, expect, it } from "vitest";
import {
  checkSettingsPatch,
  describeSettings,
  effectiveSettings,
  settingsDefaults,
  type StoredSettings,
} from "../../../src/grants/settings.js";

const problems = (input: unknown): string[] => {
  const r = checkSettingsPatch(input);
  return r.ok ? [] : r.problems;
};

describe("a settings patch", () => {
  it("takes every setting, canonicalising zone and locale", () => {
    expect(
      checkSettingsPatch({
        sendHour: 0,
        enabled: false,
        policy: "external",
        timeZone: "europe/berlin",
        locale: "FR-ca",
        calendarId: "cal_1",
      }),
    ).toEqual({
      ok: true,
      patch: {
        sendHour: 0,
        enabled: false,
        policy: "external",
        timeZone: "Europe/Berlin",
        locale: "fr-CA",
        calendarId: "cal_1",
      },
    });
    expect(checkSettingsPatch({ sendHour: 23 })).toEqual({ ok: true, patch: { sendHour: 23 } });
  });

  it("null puts the default back (the zone: clears the override)", () => {
    expect(checkSettingsPatch({ policy: null, locale: null, timeZone: null })).toEqual({
      ok: true,
      patch: { policy: null, locale: null, timeZone: null },
    });
  });

  it("refuses what is not an object, an empty patch and unknown keys", () => {
    for (const bad of [null, [], "x", 3, undefined])
      expect(problems(bad)).toEqual(["the settings must be a JSON object"]);
    expect(problems({})).toEqual([expect.stringMatching(/^name at least one setting/)]);
    expect(problems({ sendHour: 9, sendhour: 9, __proto__x: 1 })).toEqual([
      expect.stringMatching(/^unknown setting "sendhour"/),
      expect.stringMatching(/^unknown setting "__proto__x"/),
    ]);
  });

  it("one line per bad value, naming the setting", () => {
    const p = problems({
      sendHour: 24,
      enabled: "true",
      policy: "everyone",
      timeZone: "+05:30",
      locale: "ja",
      calendarId: "",
    });
    expect(p.map((l) => l.split(" ")[0])).toEqual([
      "sendHour",
      "enabled",
      "policy",
      "timeZone",
      "locale",
      "calendarId",
    ]);
    for (const line of p) expect(line).not.toMatch(/\n/);
    for (const sendHour of [-1, 1.5, "9", null, 1e9]) expect(problems({ sendHour })).toHaveLength(1);
    for (const enabled of [null, 1, "false"]) expect(problems({ enabled })).toHaveLength(1);
    for (const timeZone of ["Mars/Olympus", "", 5, "UTC+1", "x".repeat(100)])
      expect(problems({ timeZone })).toHaveLength(1);
    for (const locale of ["", "xx", "en_US!", 7, "zz-ZZ"]) expect(problems({ locale })).toHaveLength(1);
    for (const calendarId of ["   ", "a\nb", "x".repeat(1025), 5, null])
      expect(problems({ calendarId })).toHaveLength(1);
    expect(problems({ calendarId: "x".repeat(1024) })).toEqual([]);
  });

  it("a long hostile value is not echoed whole", () => {
    const [line] = problems({ policy: "<script>".repeat(100) });
    expect(line!.length).toBeLessThan(200);
  });
});

describe("the settings in effect", () => {
  const stored: StoredSettings = {
    id: "g1",
    email: "a@example.com",
    provider: "google",
    status: "valid",
    sendHour: 18,
    enabled: true,
    policy: null,
    locale: null,
    calendarId: "primary",
    timeZone: "Europe/Berlin",
    timeZoneSource: "calendar",
  };

  it("fills the blanks with the deployment's defaults and says so", () => {
    const e = effectiveSettings(stored, { policy: "organized", locale: "de" });
    expect(e).toMatchObject({ policy: "organized", policyDefault: true, locale: "de", localeDefault: true });
    expect(e.timeZoneOverride).toBe(false);
    const own = effectiveSettings(
      { ...stored, policy: "all", locale: "fr-CA", timeZoneSource: "override" },
      { policy: "organized", locale: "de" },
    );
    expect(own).toMatchObject({ policy: "all", policyDefault: false, locale: "fr-CA", localeDefault: false });
    expect(own.timeZoneOverride).toBe(true);
    expect(describeSettings(own)).toContain("locale      fr-CA");
    expect(describeSettings(e)).toContain("policy      organized (default)");
  });

  it("the defaults come from the configuration", () => {
    expect(settingsDefaults({ DEFAULT_LOCALE: "fr", REMINDER_POLICY: "organized" })).toEqual({
      policy: "organized",
      locale: "fr",
    });
    expect(settingsDefaults({ DEFAULT_LOCALE: "en", REMINDER_POLICY: "all" })).toEqual({ policy: "all", locale: "en" });
  });
});
