import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { providerRefreshToken, startSandbox, type Sandbox } from "nylas-sandbox";
import type { Db } from "../../src/db/client.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { runJobCli, startJobCli } from "../support/job-cli.js";
import { createRedis } from "../../src/redis/connection.js";

/** `npm run grants:import` as a child process against the sandbox, as an operator runs it. */
describe("grants:import CLI (child process, sandbox, Postgres, Redis)", { timeout: 120_000 }, () => {
  let db: Db;
  let sb: Sandbox;
  let dir: string;
  const prefix = uniqueId("imp");
  const env = () => ({
    NYLAS_API_URI: sb.url,
    NYLAS_API_KEY: sb.apiKey,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: "debug",
  });
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runJobCli("grants-import.ts", args, { ...env(), ...extra });
  const addr = (name: string) => `${name}.${prefix}@example.com`.toLowerCase();
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const reportOf = (path: string) =>
    readFileSync(`${path}.report.jsonl`, "utf8")
      .trim()
      .split("\n")
      .flatMap((l) => {
        // A line being written while the import runs is read next time.
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .filter((r) => r.line !== undefined);
  const grantsOf = (emails: string[]) =>
    db.grant.findMany({ where: { email: { in: emails, mode: "insensitive" } }, orderBy: { email: "asc" } });
  const customAuthCalls = () => sb.requestLog({ route: "connect.custom" }).length;

  /** Every text column of every table, as JSON: where a leaked secret would be. */
  async function databaseText(): Promise<string> {
    const tables = await db.$queryRawUnsafe<{ table_name: string }[]>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    );
    let all = "";
    for (const { table_name } of tables) {
      const rows = await db.$queryRawUnsafe<{ j: string }[]>(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
      all += rows.map((r) => r.j).join("\n");
    }
    return all;
  }

  /** Every key of this test's prefix in Redis (queue jobs, the rate budget), as text. */
  async function redisText(): Promise<string> {
    const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    try {
      let all = "";
      for (const key of await redis.keys(`${prefix}:*`)) {
        const type = await redis.type(key);
        const value =
          type === "string"
            ? await redis.get(key)
            : type === "hash"
              ? await redis.hgetall(key)
              : type === "list"
                ? await redis.lrange(key, 0, -1)
                : type === "set"
                  ? await redis.smembers(key)
                  : type === "zset"
                    ? await redis.zrange(key, "0", "-1")
                    : type === "stream"
                      ? await redis.xrange(key, "-", "+")
                      : "";
        all += `${key} ${JSON.stringify(value)}\n`;
      }
      return all;
    } finally {
      redis.disconnect();
    }
  }

  beforeAll(async () => {
    db = await testPrisma();
    sb = await startSandbox();
    dir = mkdtempSync(join(tmpdir(), "grants-import-"));
  });
  beforeEach(() => sb.reset());
  afterAll(async () => {
    const ours = await db.grant.findMany({ where: { email: { contains: prefix } }, select: { id: true } });
    await deleteGrants(
      db,
      ours.map((g) => g.id),
    );
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("--help documents the file format; bad arguments are one line and exit 2", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const word of [
      "provider",
      "email",
      "refresh_token",
      "imap_password",
      "time_zone",
      "send_hour",
      "enabled",
      "locale",
      "--dry-run",
      "JSON Lines",
    ])
      expect(help.stdout).toContain(word);
    for (const args of [[], ["a.csv", "b.csv"], ["a.csv", "--rate", "80"], ["a.csv", "--bogus"]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("a 3-row CSV creates three grants; a second run creates none; its planted secret appears nowhere", async () => {
    const secret = `sbx-planted-${prefix}`;
    const users = ["ann", "ben", "cat"].map(addr);
    const tokens = users.map((u) => `${providerRefreshToken("google", u)}.${secret}`);
    const path = file(
      "three.csv",
      `provider,email,refresh_token\n${users.map((u, i) => `google,${u},${tokens[i]}`).join("\n")}\n`,
    );
    const first = await cli([path]);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^created\s+3$/m);
    const stored = await grantsOf(users);
    expect(stored.map((g) => g.email)).toEqual(users);
    expect(stored.every((g) => g.status === "valid" && g.provider === "google")).toBe(true);
    expect(new Set(stored.map((g) => g.id))).toEqual(new Set(users.map((u) => sb.store.grantByEmail(u)!.grant.id)));
    expect(customAuthCalls()).toBe(3);

    const second = await cli([path]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^created\s+0$/m);
    expect(second.stdout).toMatch(/^existing\s+3$/m);
    expect(second.stdout).toMatch(/nothing new/);
    expect(customAuthCalls()).toBe(3); // nothing asked of Nylas again
    expect(await grantsOf(users)).toHaveLength(3);
    expect(sb.grantIds()).toHaveLength(3);

    const report = readFileSync(`${path}.report.jsonl`, "utf8");
    const redisNow = await redisText();
    expect(redisNow).toContain(`${prefix}:`); // the import's keys are there to look into
    for (const text of [
      first.stdout,
      first.stderr,
      second.stdout,
      second.stderr,
      report,
      await databaseText(),
      redisNow,
    ])
      expect(text).not.toContain(secret);
  });

  it("a mixed file: good, duplicate, invalid and refused rows each get their outcome; one bad row stops nothing", async () => {
    const [good, dup, refused, imap, badHour, noToken] = ["good", "dup", "refused", "imap", "hour", "notoken"].map(
      addr,
    );
    const path = file(
      "mixed.csv",
      [
        "provider,email,refresh_token,imap_password,imap_host,time_zone,send_hour,enabled,locale",
        `google,${good},${providerRefreshToken("google", good!)},,,Europe/Berlin,7,true,fr-CA`,
        `microsoft,${dup},${providerRefreshToken("microsoft", dup!)},,,,,,`,
        `microsoft,${dup!.toUpperCase()},${providerRefreshToken("microsoft", dup!)},,,,,,`,
        `google,${refused},${providerRefreshToken("google", refused!, { refused: true })},,,,,,`,
        `imap,${imap},,"app pw, with comma",imap.example.net,,,false,`,
        `google,${badHour},${providerRefreshToken("google", badHour!)},,,,25,,`,
        `microsoft,${noToken},,,,,,,`,
        "",
      ].join("\n"),
    );
    const dry = await cli([path, "--dry-run"]);
    expect(dry.code).toBe(3);
    expect(dry.stdout).toMatch(/^ready\s+4$/m);
    expect(dry.stdout).toMatch(/^invalid\s+2$/m);
    expect(dry.stdout).toMatch(/^duplicate\s+1$/m);
    expect(dry.stdout).toMatch(/line 7: invalid: send_hour must be a whole number 0-23/);
    expect(dry.stdout).toMatch(/line 4: duplicate: the address is on line 3 already/);
    expect(customAuthCalls()).toBe(0);
    expect(existsSync(`${path}.report.jsonl`)).toBe(false);

    const r = await cli([path]);
    expect(r.code).toBe(3);
    for (const [outcome, n] of [
      ["created", 3],
      ["duplicate", 1],
      ["refused", 1],
      ["invalid", 2],
    ] as const)
      expect(r.stdout).toMatch(new RegExp(`^${outcome}\\s+${n}$`, "m"));
    const byLine = new Map(reportOf(path).map((x) => [x.line, x]));
    expect(byLine.get(2)).toMatchObject({ outcome: "created", email: good });
    expect(byLine.get(4)).toMatchObject({ outcome: "duplicate" });
    expect(byLine.get(5)).toMatchObject({ outcome: "refused", reason: expect.stringMatching(/invalid_grant/) });
    expect(byLine.get(6)).toMatchObject({ outcome: "created", email: imap });
    expect(byLine.get(7)).toMatchObject({ outcome: "invalid", reason: expect.stringMatching(/send_hour/) });
    expect(byLine.get(8)).toMatchObject({
      outcome: "invalid",
      reason: expect.stringMatching(/refresh_token is required/),
    });
    expect(JSON.stringify([...byLine.values()])).not.toContain("app pw");

    const [g] = await grantsOf([good!]);
    expect(g).toMatchObject({
      timeZone: "Europe/Berlin",
      timeZoneSource: "override",
      sendHour: 7,
      enabled: true,
      locale: "fr-CA",
    });
    const [m] = await grantsOf([imap!]);
    expect(m).toMatchObject({ provider: "imap", enabled: false, status: "valid" });
    expect(await grantsOf([refused!, badHour!, noToken!])).toHaveLength(0);
  });

  it("a malformed file exits 2 with one line per problem, naming its lines, and imports nothing", async () => {
    const a = addr("mal");
    const path = file(
      "broken.csv",
      `provider,email,refresh_token\ngoogle,${a},${providerRefreshToken("google", a)}\ngoogle,"unclosed,x\ngoogle,x@example.com\n`,
    );
    const r = await cli([path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/line 3: a quoted field is not closed/);
    expect(lines[1]).toMatch(/line 4: 2 fields where the header has 3/);
    expect(lines).toHaveLength(3);
    expect(customAuthCalls()).toBe(0);
    expect(await grantsOf([a])).toHaveLength(0);

    const jsonl = file(
      "broken.jsonl",
      `{"provider":"google","email":"${a}"}\n[1,2]\n{"provider":"google","colour":"red"}\n`,
    );
    const j = await cli([jsonl, "--dry-run"]);
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/line 2: not a JSON object/);
    expect(j.stderr).toMatch(/line 3: unknown column "colour"/);
  });

  it("an interrupted import, run again, finishes: every row once at Nylas and in the database", async () => {
    const users = Array.from({ length: 24 }, (_, i) => addr(`res${i}`));
    const path = file(
      "resume.jsonl",
      users
        .map((u) =>
          JSON.stringify({ provider: "microsoft", email: u, refresh_token: providerRefreshToken("microsoft", u) }),
        )
        .join("\n"),
    );
    // The crash window: Nylas made the first user's grant, the database never heard of it.
    const early = sb.customAuth({
      provider: "microsoft",
      settings: { refresh_token: providerRefreshToken("microsoft", users[0]!) },
    });
    const run = startJobCli("grants-import.ts", [path, "--rate", "6", "--concurrency", "2"], env());
    // Killed outright (no clean stop) once some rows are reported.
    await waitFor(() => existsSync(`${path}.report.jsonl`) && reportOf(path).length >= 5);
    run.child.kill("SIGKILL");
    await run.result;
    const partly = reportOf(path).length;
    expect(partly).toBeLessThan(users.length);

    const again = await cli([path, "--rate", "50"]);
    expect(again.code).toBe(0);
    const stored = await grantsOf(users);
    expect(stored).toHaveLength(users.length);
    expect(sb.grantIds()).toHaveLength(users.length);
    expect(stored.find((g) => g.email === users[0])!.id).toBe(early.id);
    const last = new Map(reportOf(path).map((x) => [x.email, x.outcome]));
    expect([...last.values()].every((o) => o === "created" || o === "existing")).toBe(true);
    // Rows reported before the kill are existing now; so is a row stored but not yet reported.
    const count = (o: string) => Number(new RegExp(`^${o}\\s+(\\d+)$`, "m").exec(again.stdout)![1]);
    expect(count("existing")).toBeGreaterThanOrEqual(partly);
    expect(count("created") + count("existing")).toBe(users.length);
  });

  it("Ctrl-C (SIGINT) finishes the rows under way, reports them, and exits 130", async () => {
    const users = Array.from({ length: 20 }, (_, i) => addr(`int${i}`));
    const path = file(
      "interrupt.csv",
      `provider,email,refresh_token\n${users.map((u) => `google,${u},${providerRefreshToken("google", u)}`).join("\n")}\n`,
    );
    const run = startJobCli("grants-import.ts", [path, "--rate", "4", "--concurrency", "2"], env());
    await waitFor(() => existsSync(`${path}.report.jsonl`) && reportOf(path).length >= 2);
    run.child.kill("SIGINT");
    const r = await run.result;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/interrupted after \d+ of 20 rows/);
    const reported = reportOf(path);
    expect(reported.length).toBeLessThan(20);
    // Every row reported is stored, and every stored one reported: nothing half done.
    const stored = await grantsOf(users);
    expect(new Set(stored.map((g) => g.email))).toEqual(new Set(reported.map((x) => x.email)));
  });

  it("a 429 storm: Retry-After is honoured, and every row is imported", async () => {
    sb.setLimits({ authRequestsPerSecond: 4 });
    const users = Array.from({ length: 16 }, (_, i) => addr(`storm${i}`));
    const path = file(
      "storm.csv",
      `provider,email,refresh_token\n${users.map((u) => `google,${u},${providerRefreshToken("google", u)}`).join("\n")}\n`,
    );
    const r = await cli([path, "--rate", "50", "--concurrency", "4"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^created\s+16$/m);
    expect(await grantsOf(users)).toHaveLength(16);
    const limited = sb.requestLog({ route: "connect.custom" }).filter((e) => e.status === 429).length;
    expect(limited).toBeGreaterThan(0);
    // Hammering would be hundreds; waiting out each Retry-After leaves a few per window.
    expect(limited).toBeLessThanOrEqual(16 * 2);
    expect(r.stdout).toMatch(new RegExp(`${limited} answered 429`));
  });
});

async function waitFor(ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
