import { describe, expect, it } from "vitest";
import { parseSettingsArgs, SETTINGS_USAGE, SettingsUsageError } from "../../../src/grants/settings-args.js";

const problem = (argv: string[]): string => {
  try {
    parseSettingsArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsUsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
};

describe("grants:settings arguments", () => {
  it("help", () => {
    expect(parseSettingsArgs(["--help"])).toBe("help");
    expect(parseSettingsArgs(["g1", "-h"])).toBe("help");
    for (const flag of ["--send-hour", "--enabled", "--policy", "--zone", "--locale", "--calendar"])
      expect(SETTINGS_USAGE).toContain(flag);
  });

  it("a grant alone only shows its settings; an address is looked up", () => {
    expect(parseSettingsArgs(["grant-1"])).toEqual({ target: "grant-1", byEmail: false, patch: {} });
    expect(parseSettingsArgs(["Ann@Example.com"])).toEqual({ target: "Ann@Example.com", byEmail: true, patch: {} });
  });

  it("every flag, with default for the deployment's value", () => {
    const all = ["g1", "--send-hour", "7", "--enabled", "false", "--policy", "all", "--zone", "asia/tokyo"];
    expect(parseSettingsArgs([...all, "--locale", "de-ch", "--calendar", "cal 1"])).toEqual({
      target: "g1",
      byEmail: false,
      patch: {
        sendHour: 7,
        enabled: false,
        policy: "all",
        timeZone: "Asia/Tokyo",
        locale: "de-CH",
        calendarId: "cal 1",
      },
    });
    const defaults = ["g1", "--policy", "default", "--zone", "default", "--locale", "default"];
    expect(parseSettingsArgs(defaults)).toMatchObject({ patch: { policy: null, timeZone: null, locale: null } });
  });

  it("bad arguments: one line naming the flag", () => {
    expect(problem([])).toMatch(/name the grant/);
    expect(problem(["a b"])).toMatch(/by its id/);
    expect(problem(["@nobody"])).toMatch(/by its id/);
    expect(problem(["g1", "g2"])).toMatch(/unexpected argument "g2"/);
    expect(problem(["g1", "--colour", "red"])).toMatch(/colour/);
    expect(problem(["g1", "--send-hour", "24"])).toMatch(/^--send-hour must be a whole number 0-23, not 24$/);
    expect(problem(["g1", "--send-hour", "7pm"])).toMatch(/^--send-hour must be/);
    expect(problem(["g1", "--enabled", "yes"])).toMatch(/^--enabled must be true or false/);
    expect(problem(["g1", "--policy", "everyone"])).toMatch(
      /^--policy must be one of organized, all, external or default/,
    );
    expect(problem(["g1", "--zone", "Mars/Base"])).toMatch(/^--zone must be an IANA time zone .*, or default/);
    expect(problem(["g1", "--locale", "ja"])).toMatch(/^--locale must be/);
    expect(problem(["g1", "--calendar", ""])).toMatch(/^--calendar must be/);
    const two = problem(["g1", "--send-hour", "99", "--locale", "xx"]);
    expect(two).toMatch(/^--send-hour .*; --locale /);
    expect(two).not.toMatch(/\n/);
  });
});
