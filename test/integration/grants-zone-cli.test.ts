import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { addDays, localDate, localDayWindow } from "../../src/time/window.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { runJobCli } from "../support/job-cli.js";

/** `npm run grants:zone` as a child process, as an operator runs it. */
const cli = (args: string[], env: Record<string, string | undefined> = {}) => runJobCli("grants-zone.ts", args, env);

describe("grants:zone CLI (child process, Postgres)", { timeout: 60_000 }, () => {
  let db: Db;
  const grantId = uniqueId("zone");
  const TOKYO = "Asia/Tokyo";
  const LA = "America/Los_Angeles";
  // The user's next day in Los Angeles, which Tokyo already ran (its Tokyo window ends earlier).
  const day = addDays(localDate(LA, new Date()), 1);

  beforeAll(async () => {
    db = await testPrisma();
    await db.grant.create({
      data: {
        id: grantId,
        email: `${grantId}@example.com`,
        provider: "microsoft",
        timeZone: TOKYO,
        timeZoneSource: "events",
      },
    });
    const w = localDayWindow(TOKYO, day);
    await db.run.create({
      data: {
        grantId,
        day,
        timeZone: TOKYO,
        status: "completed",
        windowStart: new Date(w.start * 1000),
        windowEnd: new Date(w.end * 1000),
      },
    });
  });
  afterAll(async () => {
    await deleteGrants(db, [grantId]);
  });

  it("--help prints the usage and exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: npm run grants:zone -- GRANT_ID ZONE/);
    expect(r.stdout).toMatch(/--clear/);
  });

  it.each([
    [["only-a-grant"], /name the zone/],
    [[grantId, "Mars/Olympus"], /"Mars\/Olympus" is not an IANA time zone/],
    [[grantId, "UTC", "--bogus"], /Unknown option '--bogus'/],
  ])("refuses %j with one line and exit 2, changing nothing", async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
    expect(await db.grant.findUniqueOrThrow({ where: { id: grantId } })).toMatchObject({ timeZoneSource: "events" });
  });

  it("refuses an unknown grant (exit 2) and a missing DATABASE_URL (exit 2), each in one line", async () => {
    const unknown = await cli(["no-such-grant", "UTC"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout.trim()).toMatch(/^grants:zone: unknown grant: no-such-grant/);
    const noDb = await cli([grantId, "UTC"], { DATABASE_URL: undefined });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr.trim().split("\n")).toHaveLength(1);
    expect(noDb.stderr).toMatch(/DATABASE_URL/);
  });

  it("sets an override, reopening the day the new zone's day reaches past, then clears it", async () => {
    const set = await cli([grantId, "america/los_angeles"]);
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect(set.stdout.trim()).toBe(
      `${grantId}: zone America/Los_Angeles (override), was Asia/Tokyo (events); days run again when due: ${day}`,
    );
    expect(await db.grant.findUniqueOrThrow({ where: { id: grantId } })).toMatchObject({
      timeZone: LA,
      timeZoneSource: "override",
    });
    expect((await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } })).status).toBe("reopened");

    const again = await cli([grantId, LA]);
    expect(again.stdout.trim()).toBe(`${grantId}: zone already America/Los_Angeles (override)`);

    const cleared = await cli([grantId, "--clear"]);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toMatch(
      /override cleared; America\/Los_Angeles stays until the next grants sync or sign-in/,
    );
    expect(await db.grant.findUniqueOrThrow({ where: { id: grantId } })).toMatchObject({
      timeZone: LA,
      timeZoneSource: "default",
    });
    const twice = await cli([grantId, "--clear"]);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toMatch(/no override to clear; zone America\/Los_Angeles \(default\)/);
  });
});
