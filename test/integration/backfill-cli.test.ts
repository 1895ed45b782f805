import { spawn } from "node:child_process";
import { Queue } from "bullmq";
import { createRedis } from "../../src/queue/redis.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/app/worker-app.js";
import { parseBackfillArgs, UsageError } from "../../src/backfill/args.js";
import type { Config } from "../../src/config/env.js";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { RUNS_QUEUE, runJobId } from "../../src/runs/run-job.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { addDays, localDate } from "../../src/time/window.js";
import { deleteGrants, testPrisma, uniqueId } from "../helpers/db.js";
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
  const day = addDays(localDate("UTC", new Date()), -1); // yesterday: a day the scheduler is done with
  let grantId: string;

  const cli = (args: string[], env: Record<string, string> = {}, onStdout?: (text: string, signal: (s: NodeJS.Signals) => void) => void): Promise<CliResult> =>
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
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c) => {
        stdout += String(c);
        onStdout?.(stdout, (s) => child.kill(s));
      });
      child.stderr.on("data", (c) => (stderr += String(c)));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });

  const meeting = (id: string, hour: number, who: string) => {
    const start = Date.parse(`${day}T${String(hour).padStart(2, "0")}:00:00Z`) / 1000;
    sandbox.addEvent(grantId, {
      id,
      title: `Meeting ${id}`,
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: [{ email: `${who}@example.com`, status: "yes" }],
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

  it("--help documents every option; bad arguments give one line and exit 2", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--grant", "--all", "--date", "--from", "--to", "--dry-run", "--wait", "--timeout-s"]) expect(help.stdout).toContain(flag);
    for (const [args, message] of [
      [[], /name the grants/],
      [["--grant", "g"], /name the days/],
      [["--grant", "g", "--date", "2026-02-30"], /--date must be a date/],
      [["--all", "--from", "2026-01-01", "--to", "2026-03-01"], /at most 31/],
      [["--all", "--grant", "g", "--date", "2026-01-01"], /either --grant or --all/],
      [["--all", "--date", "2026-01-01", "--bogus"], /Unknown option '--bogus'/],
    ] as [string[], RegExp][]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("npm warn"))).toHaveLength(1);
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
    expect(sentTo()).toBe(0);
    expect(await worker.runsQueue.getJobState(runJobId(grantId, day))).toBe("unknown");
    expect(sandbox.requestLog().filter((e) => e.route === "messages.send")).toHaveLength(0);
  });

  it("--wait runs the day, shows progress and a summary table", async () => {
    const r = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/queued 1 job\(s\) for 1 grant\(s\)/);
    expect(r.stdout).toMatch(/\[#+\] 1\/1 finished, 0 failed/);
    expect(r.stdout).toMatch(new RegExp(`${grantId}\\s+${day}\\s+completed\\s+2\\s+2\\s+0`));
    expect(r.stdout).toMatch(/1 run\(s\): 1 ok, 0 failed; 2 reminder\(s\) sent/);
    expect(sentTo()).toBe(2);
    expect(await db.run.findUnique({ where: { grantId_day: { grantId, day } } })).toMatchObject({ status: "completed", remindersSent: 2 });
  });

  it("Ctrl-C while waiting says the queued jobs stay queued and exits 130", async () => {
    // A queue no worker serves: the wait cannot end by itself.
    const idle = uniquePrefix("b-idle");
    let signalled = false;
    const r = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"], { QUEUE_PREFIX: idle }, (text, signal) => {
      if (!signalled && /queued 1 job/.test(text)) {
        signalled = true;
        signal("SIGINT");
      }
    });
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
    const to = sandbox.sentMessages({ grantId }).map((m) => m.to.join()).sort();
    expect(to).toEqual(["ann@example.com", "bob@example.com", "cyd@example.com"]);
    // And once more: nothing new.
    const again = await cli(["--grant", grantId, "--date", day, "--wait", "--timeout-s", "60"]);
    expect(again.code).toBe(0);
    expect(sentTo()).toBe(3);
  });

  it("exits 1 when a run fails (the grant answers 401), naming it in the table", async () => {
    const email = `${uniqueId("bad")}@example.com`.toLowerCase();
    const bad = sandbox.addGrant({ email, timezone: "UTC" }).id;
    grants.push(bad);
    await db.grant.create({ data: { id: bad, email, provider: "google", timeZone: "UTC" } });
    sandbox.invalidateGrant(bad);
    const r = await cli(["--grant", bad, "--grant", grantId, "--from", addDays(day, -1), "--to", day, "--wait", "--timeout-s", "60"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${bad}\\s+\\S+\\s+needs_reauth`));
    expect(r.stdout).toMatch(/4 run\(s\): 2 ok, 2 failed/);
    // The grant is now needs_reauth: named explicitly it is skipped with a line.
    const skipped = await cli(["--grant", bad, "--date", day]);
    expect(skipped.stdout).toMatch(/skipping .* needs re-authentication/);
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

  it("parses ranges inclusively", () => {
    expect(parseBackfillArgs(["--all", "--from", "2026-02-27", "--to", "2026-03-02"])).toMatchObject({ all: true, days: ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"] });
    expect(parseBackfillArgs(["--grant", "a", "--grant", "b", "--grant", "a", "--date", "2026-01-01"])).toMatchObject({ grants: ["a", "b"] });
    expect(() => parseBackfillArgs(["--all", "--from", "2026-03-02", "--to", "2026-03-01"])).toThrow(UsageError);
    expect(() => parseBackfillArgs(["--all", "--date", "2026-03-02", "--dry-run", "--wait"])).toThrow(/--wait/);
  });
});
