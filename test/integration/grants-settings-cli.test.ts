import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { runJobCli } from "../support/job-cli.js";

/** `npm run grants:settings` as a child process, as an operator runs it. */
const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
  runJobCli("grants-settings.ts", args, env);

describe("grants:settings CLI (child process, Postgres)", { timeout: 60_000 }, () => {
  let db: Db;
  const grantId = uniqueId("cli");
  const email = `${grantId}@example.com`;
  const twins = [uniqueId("twin"), uniqueId("twin")];
  const twinEmail = `${twins[0]}@example.com`;

  beforeAll(async () => {
    db = await testPrisma();
    await db.grant.create({
      data: { id: grantId, email, provider: "microsoft", timeZone: "Asia/Tokyo", timeZoneSource: "calendar" },
    });
    for (const id of twins)
      await db.grant.create({ data: { id, email: twinEmail, provider: "google", timeZone: "UTC" } });
  });
  afterAll(async () => {
    await deleteGrants(db, [grantId, ...twins]);
  });

  it("--help prints the usage and exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: npm run grants:settings -- GRANT_ID\|EMAIL/);
  });

  it("without flags prints the settings in effect, defaults from the environment", async () => {
    const r = await cli([grantId], { DEFAULT_LOCALE: "fr" });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      `grant       ${grantId} <${email}> (microsoft, valid)`,
      "enabled     true",
      "send hour   18",
      "policy      organized (default)",
      "time zone   Asia/Tokyo (calendar)",
      "locale      fr (default)",
      "calendar    primary",
      "",
    ]);
  });

  it("changes settings, found by address, and prints them after", async () => {
    const r = await cli([
      email.toUpperCase(),
      "--send-hour",
      "6",
      "--enabled",
      "false",
      "--policy",
      "all",
      "--zone",
      "Europe/Paris",
      "--locale",
      "de-AT",
      "--calendar",
      "cal_42",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("send hour   6\n");
    expect(r.stdout).toContain("enabled     false\n");
    expect(r.stdout).toContain("policy      all\n");
    expect(r.stdout).toContain("time zone   Europe/Paris (override)\n");
    expect(r.stdout).toContain("locale      de-AT\n");
    expect(r.stdout).toContain("calendar    cal_42\n");
    const row = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(row).toMatchObject({
      sendHour: 6,
      enabled: false,
      policy: "all",
      timeZone: "Europe/Paris",
      timeZoneSource: "override",
      locale: "de-AT",
      calendarId: "cal_42",
    });

    const back = await cli([grantId, "--policy", "default", "--locale", "default", "--zone", "default"]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("policy      organized (default)\n");
    expect(back.stdout).toContain("locale      en (default)\n");
    const after = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(after).toMatchObject({ policy: null, locale: null, timeZone: "Europe/Paris" });
    expect(after.timeZoneSource).not.toBe("override");
  });

  it("bad arguments: one line on stderr, exit 2, nothing changed", async () => {
    const before = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    for (const args of [
      [grantId, "--send-hour", "25"],
      [grantId, "--locale", "xx"],
      [grantId, "--enabled", "maybe", "--zone", "Nowhere/Land"],
      [grantId, "--bogus"],
      [],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^grants:settings: .* \(see --help\)\n$/);
      expect(r.stdout).toBe("");
    }
    expect(await db.grant.findUniqueOrThrow({ where: { id: grantId } })).toEqual(before);
  });

  it("an unknown or ambiguous grant exits 2 and changes nothing", async () => {
    const unknown = await cli([uniqueId("nobody"), "--send-hour", "3"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toMatch(/^grants:settings: unknown grant: /);
    const ambiguous = await cli([twinEmail, "--send-hour", "3"]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stdout).toContain("2 grants have this address");
    const rows = await db.grant.findMany({ where: { id: { in: twins } } });
    expect(rows.map((g) => g.sendHour)).toEqual([18, 18]);
  });
});
