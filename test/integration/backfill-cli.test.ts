import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { Queue } from "bullmq";
import { createRedis } from "../../src/redis/connection.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import { parseBackfillArgs, UsageError } from "../../src/backfill/args.js";
import type { Config } from "../../src/config.js";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { RUNS_QUEUE, runJobId } from "../../src/runs/job.js";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { addDays, localDate } from "../../src/time/window.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { testConfig, uniquePrefix } from "../e2e/support.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("backfill CLI end to end (child process, sandbox, Postgres, Redis)", () => {
  let sandbox: Sandbox;
  let db: Db;
  let config: Config;
  let worker: WorkerApp;
  const grants: string[] = [];
  // Two days ahead: every meeting is far beyond MIN_LEAD_MINUTES (a past day's are all
  // `started`, see the test of its own); this worker runs no scheduler to queue it first.
  const day = addDays(localDate("UTC", new Date()), 2);
  let grantId: string;

  const cli = (
    args: string[],
    env: Record<string, string> = {},
    onStdout?: (text: string, signal: (s: NodeJS.Signals) => void) => void,
    stdin?: string,
  ): Promise<CliResult> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "jobs/backfill.ts"), ...args], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          NODE_ENV: "test",
          DATABASE_URL: config.DATABASE_URL!,
          REDIS_URL: config.REDIS_URL,
          QUEUE_PREFIX: config.QUEUE_PREFIX,
          NYLAS_API_KEY: sandbox.apiKey,
          NYLAS_API_URI: sandbox.url,
          ...env,
        },
        stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
      if (stdin !== undefined) child.stdin!.end(stdin);
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (c) => {
        stdout += String(c);
        onStdout?.(stdout, (s) => child.kill(s));
      });
      child.stderr!.on("data", (c) => (stderr += String(c)));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });

  const meeting = (id: string, hour: number, who: string, on = day, organizer?: { email: string }) => {
    const start = Date.parse(`${on}T${String(hour).padStart(2, "0")}:00:00Z`) / 1000;
    sandbox.addEvent(grantId, {
      id,
      title: `Meeting ${id}`,
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: [{ email: `${who}@example.com`, status: "yes" }],
      ...(organizer ? { organizer } : {}),
    });
  };
  const sentTo = () => sandbox.sentMessages({ grantId }).length;

  beforeAll(async () => {
    sandbox = await startSandbox({});
    db = await testPrisma();
    config = testConfig(sandbox, uniquePrefix("b"));
    const email = `${uniqueId("bf")}@example.com`.toLowerCase();
    grantId = sandbox.addGrant({ email, timezone: "UTC" }).id;
    grants.push(grantId);
    await db.grant.create({ data: { id: grantId, email, provider: "google", timeZone: "UTC" } });
    meeting("evt1", 9, "ann");
    meeting("evt2", 14, "bob");
    worker = await startWorkerApp(config, createLogger({ level: "silent" }), { db, scheduler: false, webhooks: false });
  });
  afterAll(async () => {
    await worker.runsQueue.obliterate({ force: true }).catch(() => {});
    await worker.close(5000);
    await deleteGrants(db, grants);
    await sandbox.close();
  });

  // Eleven processes: their start-up (tsx) is most of the time, so they start side by side.
  it("--help documents every option; bad arguments give one line and exit 2", { timeout: 120_000 }, async () => {
    const help = cli(["--help"]);
    const refused = [
      [[], /name the grants/],
      [["--grant", "g"], /name the days/],
      [["--grant", "g", "--date", "2026-02-30"], /--date must be a date/],
      [["--all", "--from", "2026-01-01", "--to", "2026-03-01"], /at most 31/],
      [["--all", "--grant", "g", "--date", "2026-01-01"], /either --grant\/--grants-file or --all/],
      [
        ["--grant", "g", "--date", "9999-12-31"],
        /--date must be a day from 2000-01-01 to 2100-12-31, got "9999-12-31"/,
      ],
      [["--grant", "g", "--date", "1999-12-31"], /--date must be a day from 2000-01-01/],
      [["--all", "--from", "2100-12-30", "--to", "2101-01-02"], /--to must be a day from 2000-01-01 to 2100-12-31/],
      [["--grant", "g g", "--date", "2026-01-01"], /--grant needs a grant id/],
      [["--all", "--date", "2026-01-01", "--bogus"], /Unknown option '--bogus'/],
    ] as [string[], RegExp][];
    const answers = await Promise.all(refused.map(([args]) => cli(args)));
    const usage = await help;
    expect(usage.code).toBe(0);
    for (const flag of ["--grant", "--all", "--date", "--from", "--to", "--dry-run", "--wait", "--timeout-s"])
      expect(usage.stdout).toContain(flag);
    for (const [i, [args, message]] of refused.entries()) {
      const r = answers[i]!;
      expect(r.code, args.join(" ")).toBe(2);
      expect(
        r.stderr
          .trim()
          .split("\n")
          .filter((l) => !l.startsWith("npm warn")),
      ).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it("an unknown grant is one clear line and exit 2", async () => {
    const r = await cli(["--grant", "no-such-grant", "--date", day]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/unknown grant: no-such-grant/);
  });

  it("--dry-run prints what would be sent and sends and queues nothing", async () => {
    const r = await cli(["--grant", grantId, "--date", day, "--dry-run"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/would send 2 reminder\(s\); 0 already sent/);
    expect(r.stdout).toContain("ann@example.com");
    expect(r.stdout).toContain("Meeting evt2");
    // Each row names the zone the day is read in, and where that zone comes from.
    expect(r.stdout).toMatch(/\bzone\b/);
    expect(r.stdout).toMatch(/would send\s+UTC \(default\)/);
    expect(sentTo()).toBe(0);
    expect(await worker.runsQueue.getJobState(runJobId(grantId, day))).toBe("unknown");
    expect(sandbox.requestLog().filter((e) => e.route === "messages.send")).toHaveLength(0);
  });

  it("--wait runs the day, shows progress and a summary table", async () => {
    const r = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/queued 1 job\(s\) for 1 grant\(s\)/);
    expect(r.stdout).toMatch(/\[#+\] 1\/1 finished, 0 failed/);
    expect(r.stdout).toMatch(new RegExp(`${grantId}\\s+${day}\\s+completed\\s+2\\s+2\\s+0\\s+UTC \\(default\\)`));
    expect(r.stdout).toMatch(/1 run\(s\): 1 ok, 0 failed; 2 reminder\(s\) sent/);
    expect(sentTo()).toBe(2);
    expect(await db.run.findUnique({ where: { grantId_day: { grantId, day } } })).toMatchObject({
      status: "completed",
      remindersSent: 2,
    });
  });

  it("Ctrl-C while waiting says the queued jobs stay queued and exits 130", async () => {
    // A queue no worker serves: the wait cannot end by itself.
    const idle = uniquePrefix("b-idle");
    let signalled = false;
    const r = await cli(
      ["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"],
      { QUEUE_PREFIX: idle },
      (text, signal) => {
        if (!signalled && /queued 1 job/.test(text)) {
          signalled = true;
          signal("SIGINT");
        }
      },
    );
    expect(signalled).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toMatch(/backfill: interrupted; jobs already queued stay queued/);
    const redis = createRedis(config.REDIS_URL);
    const keys = await redis.keys(`${idle}:*`);
    expect(keys.length).toBeGreaterThan(0); // the job is still there for a worker
    await redis.del(...keys);
    await redis.quit();
  });

  it("a backfill of a day already run sends exactly the missing reminders", async () => {
    meeting("evt3", 16, "cyd"); // added after the run
    const dry = await cli(["--grant", grantId, "--date", day, "--dry-run"]);
    expect(dry.stdout).toMatch(/would send 1 reminder\(s\); 2 already sent/);
    const r = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(sentTo()).toBe(3);
    const to = sandbox
      .sentMessages({ grantId })
      .map((m) => m.to.join())
      .sort();
    expect(to).toEqual(["ann@example.com", "bob@example.com", "cyd@example.com"]);
    // And once more: nothing new.
    const again = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(again.code).toBe(0);
    expect(sentTo()).toBe(3);
  });

  it("a backfill of a past day sends nothing and says what it skipped and why", async () => {
    const past = addDays(localDate("UTC", new Date()), -1);
    meeting("old1", 9, "dee", past);
    meeting("old2", 10, "eve", past, { email: "boss@partner.org" }); // the user only attends
    const before = sentTo();
    const skips = [
      /^skipped 2 meeting\(s\):$/m,
      /^ {2}not_organizer +1 {2}the reminder policy wants meetings the user organises$/m,
      /^ {2}started +1 {2}starts within MIN_LEAD_MINUTES of the send, or already began$/m,
    ];
    const dry = await cli(["--grant", grantId, "--date", past, "--dry-run"]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would send 0 reminder\(s\); 0 already sent/);
    for (const line of skips) expect(dry.stdout).toMatch(line);

    const r = await cli(["--grant", grantId, "--date", past, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 run\(s\): 1 ok, 0 failed; 0 reminder\(s\) sent/);
    for (const line of skips) expect(r.stdout).toMatch(line);
    expect(sentTo()).toBe(before);
    expect(await db.run.findUnique({ where: { grantId_day: { grantId, day: past } } })).toMatchObject({
      status: "completed",
      remindersSent: 0,
      skippedByReason: { started: 1, not_organizer: 1 },
    });
    // A day with nothing skipped says so in one line.
    const fine = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(fine.stdout).toMatch(/^skipped nothing$/m);
  });

  it("a hidden guest list is one message per guest: in the dry run, the run and the ledger check", async () => {
    const start = Date.parse(`${day}T18:00:00Z`) / 1000;
    sandbox.addEvent(grantId, {
      id: "evt4",
      title: "Meeting evt4",
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: ["dee", "eli"].map((n) => ({ email: `${n}@example.com`, status: "yes" })),
      hide_participants: true,
    });
    const dry = await cli(["--grant", grantId, "--date", day, "--dry-run"]);
    expect(dry.stdout).toMatch(/would send 2 reminder\(s\); 3 already sent/);
    expect(dry.stdout).not.toMatch(/dee@example\.com, eli@example\.com/);
    const r = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const hidden = sandbox.sentMessages({ grantId }).filter((m) => m.subject.includes("Meeting evt4"));
    expect(hidden.map((m) => m.to)).toEqual(expect.arrayContaining([["dee@example.com"], ["eli@example.com"]]));
    expect(hidden).toHaveLength(2);
    const after = await cli(["--grant", grantId, "--date", day, "--dry-run"]);
    expect(after.stdout).toMatch(/would send 0 reminder\(s\); 5 already sent/);
  });

  it("exits 1 when a run fails (the grant answers 401), naming it in the table", async () => {
    const email = `${uniqueId("bad")}@example.com`.toLowerCase();
    const bad = sandbox.addGrant({ email, timezone: "UTC" }).id;
    grants.push(bad);
    await db.grant.create({ data: { id: bad, email, provider: "google", timeZone: "UTC" } });
    sandbox.invalidateGrant(bad);
    const r = await cli([
      "--grant",
      bad,
      "--grant",
      grantId,
      "--from",
      addDays(day, -1),
      "--to",
      day,
      "--wait",
      "--timeout-s",
      "60",
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${bad}\\s+\\S+\\s+needs_reauth`));
    expect(r.stdout).toMatch(/4 run\(s\): 2 ok, 2 failed/);
    // The grant is now needs_reauth: named explicitly it is skipped with a line.
    const skipped = await cli(["--grant", bad, "--date", day]);
    expect(skipped.stdout).toMatch(/skipping .* needs re-authentication/);
    // Only skipped grants: nothing was queued, which a script can tell from a failed run.
    expect(skipped.code).toBe(3);
    expect(skipped.stdout).toMatch(/nothing to backfill: every named grant is skipped/);
  });

  it("exits 1 when --wait times out, saying the jobs stay queued", async () => {
    // A queue no worker serves: only --timeout-s can end the wait.
    const late = uniquePrefix("b-late");
    let stop: NodeJS.Timeout | undefined;
    const args = ["--grant", grantId, "--date", day, "--wait", "--timeout-s", "1"];
    const r = await cli(args, { QUEUE_PREFIX: late }, (_text, signal) => {
      // A wait that ignored its timeout would never end by itself: stop it for the report.
      stop ??= setTimeout(() => signal("SIGKILL"), 20_000);
    });
    clearTimeout(stop);
    const redis = createRedis(config.REDIS_URL);
    const queue = new Queue(RUNS_QUEUE, { connection: redis, prefix: late });
    try {
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/queued 1 job\(s\) for 1 grant\(s\)/);
      expect(r.stdout).toMatch(/backfill: jobs still unfinished after 1 s; they stay queued/);
      expect(r.stdout).not.toMatch(/interrupted/);
      // And so it is, for the next worker.
      expect(await queue.getJobState(runJobId(grantId, day))).toBe("waiting");
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await redis.quit();
    }
  });

  describe("--grants-file", () => {
    const dir = mkdtempSync(join(tmpdir(), "grants-file-"));
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const many: string[] = [];

    beforeAll(async () => {
      // 3,000 ids: a command line of --grant flags this long fails with E2BIG before node starts.
      for (let i = 0; i < 3000; i++) many.push(`${uniqueId("bulk")}-${i}`);
      grants.push(...many);
      await db.grant.createMany({
        data: many.map((id) => ({ id, email: `${id}@example.com`, provider: "google", timeZone: "UTC" })),
      });
    });

    it("queues 3,000 grants from a file with comments, blank lines and duplicates", { timeout: 120_000 }, async () => {
      const text = [
        "# grants to redo after the outage",
        "",
        ...many.map((id, i) => (i % 500 === 0 ? `  ${id}  # re-connected\r` : id)),
        many[0],
        "",
      ].join("\n");
      const path = file("many.txt", text);
      // A queue no worker serves: the jobs stay there to be counted.
      const idle = uniquePrefix("b-file");
      const redis = createRedis(config.REDIS_URL);
      const queue = new Queue(RUNS_QUEUE, { connection: redis, prefix: idle });
      try {
        const r = await cli(["--grants-file", path, "--date", day], { QUEUE_PREFIX: idle });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/queued 3000 job\(s\) for 3000 grant\(s\)/);
        expect(await queue.getJobCountByTypes("waiting")).toBe(3000);
        expect(await queue.getJobState(runJobId(many[2999]!, day))).toBe("waiting");
      } finally {
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
        await redis.quit();
      }
    });

    it("reads stdin with -, and exits 3 when every named grant is skipped", { timeout: 120_000 }, async () => {
      await db.grant.updateMany({ where: { id: { in: many } }, data: { enabled: false } });
      const r = await cli(["--grants-file", "-", "--date", day], {}, undefined, many.join("\n"));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout.match(/^skipping .*: disabled$/gm)).toHaveLength(3000);
      expect(r.stdout).toMatch(/nothing to backfill: every named grant is skipped/);
    });

    it("combines with --grant; an unknown id in the file is exit 2 like --grant", async () => {
      const r = await cli(
        ["--grants-file", "-", "--grant", grantId, "--date", day, "--dry-run"],
        {},
        undefined,
        `${grantId}\nno-such-grant-in-file\n`,
      );
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/unknown grant: no-such-grant-in-file/);
    });

    it.each([
      [
        "a bad line, named by its number",
        () => file("bad.txt", "g-1\n\n# fine\ng 2\n"),
        /--grants-file .*bad\.txt line 4: "g 2" is not a grant id/,
      ],
      ["a control character", () => file("ctl.txt", "g-1\ng-\u001b[2J\n"), /line 2: "g-\\u001b\[2J" is not a grant id/],
      [
        "a line too long to be an id",
        () => file("long.txt", `g-1\n${"x".repeat(5000)}`),
        /line 2: longer than 1024 characters/,
      ],
      ["a file with no id", () => file("empty.txt", "# nothing yet\n\n"), /names no grant/],
      ["a missing file", () => join(dir, "missing.txt"), /cannot read --grants-file .*missing\.txt: no such file/],
      ["a directory", () => dir, /cannot read --grants-file .*: it is a directory/],
    ])("refuses %s with one line and exit 2", async (_name, path, message) => {
      const r = await cli(["--grants-file", path(), "--date", day]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    });
  });

  it("parses ranges inclusively", () => {
    expect(parseBackfillArgs(["--all", "--from", "2026-02-27", "--to", "2026-03-02"])).toMatchObject({
      all: true,
      days: ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"],
    });
    expect(parseBackfillArgs(["--grant", "a", "--grant", "b", "--grant", "a", "--date", "2026-01-01"])).toMatchObject({
      grants: ["a", "b"],
    });
    expect(() => parseBackfillArgs(["--all", "--from", "2026-03-02", "--to", "2026-03-01"])).toThrow(UsageError);
    expect(() => parseBackfillArgs(["--all", "--date", "2026-03-02", "--dry-run", "--wait"])).toThrow(/--wait/);
    expect(parseBackfillArgs(["--grants-file", "-", "--grant", "a", "--date", "2000-01-01"])).toMatchObject({
      grants: ["a"],
      grantsFile: "-",
      days: ["2000-01-01"],
    });
    expect(parseBackfillArgs(["--all", "--date", "2100-12-31"])).toMatchObject({ days: ["2100-12-31"] });
    expect(() => parseBackfillArgs(["--grants-file", "", "--date", "2026-01-01"])).toThrow(
      /--grants-file needs a file name/,
    );
  });
});
