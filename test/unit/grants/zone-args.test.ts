import { describe, expect, it } from "vitest";
import { parseZoneArgs, ZONE_USAGE, ZoneUsageError } from "../../../src/grants/zone-args.js";

describe("grants:zone arguments", () => {
  it("reads a grant and a zone (its case fixed), or a grant and --clear", () => {
    expect(parseZoneArgs(["g-1", "Europe/Berlin"])).toEqual({ grantId: "g-1", zone: "Europe/Berlin" });
    expect(parseZoneArgs(["g-1", "america/los_angeles"])).toEqual({ grantId: "g-1", zone: "America/Los_Angeles" });
    expect(parseZoneArgs(["g-1", "--clear"])).toEqual({ grantId: "g-1", clear: true });
    expect(parseZoneArgs(["--clear", "g-1"])).toEqual({ grantId: "g-1", clear: true });
  });

  it("answers --help", () => {
    expect(parseZoneArgs(["--help"])).toBe("help");
    expect(parseZoneArgs(["-h", "g", "x"])).toBe("help");
    expect(ZONE_USAGE).toMatch(/--clear/);
    expect(ZONE_USAGE).toMatch(/Exit codes/);
  });

  it.each([
    [[], /name the grant/],
    [["g-1"], /name the zone/],
    [["g-1", "Mars/Olympus"], /not an IANA time zone/],
    [["g-1", "+02:00"], /not an IANA time zone/],
    [["g-1", "Europe/Berlin", "--clear"], /either a ZONE or --clear/],
    [["g-1", "Europe/Berlin", "extra"], /unexpected argument "extra"/],
    [["bad id!", "UTC"], /grant id must be/],
    [["g-1", "UTC", "--zone"], /Unknown option '--zone'/],
  ])("refuses %j with one line", (argv, message) => {
    let err: unknown;
    try {
      parseZoneArgs(argv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ZoneUsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain("\n");
  });
});
