import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runDemo } from "../../demo/nightly-demo.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log/logger.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { createRedis } from "../../src/redis/connection.js";
import { runJobId } from "../../src/runs/job.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { deleteGrants, testDatabaseUrl, testPrisma, uniqueId } from "../support/db.js";
import { LogSink, startPipeline, type Pipeline } from "../support/pipeline.js";
import { WorkerFleet } from "../../harness/fleet.js";
import { clockFrom } from "../../src/time/clock.js";
import { messagesOf } from "../support/messages.js";

type LogLine = Record<string, unknown> & { msg: string; time: number };

/** Every JSON line the worker processes wrote into `dir`. */
function readLogs(dir: string): LogLine[] {
  return readdirSync(dir)
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The environment of a worker process on the pipeline's sandbox, database and queue. */
function workerEnv(p: Pipeline, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    REDIS_URL: p.config.REDIS_URL,
    NYLAS_API_KEY: p.sandbox.apiKey,
    NYLAS_API_URI: p.sandbox.url,
    QUEUE_PREFIX: p.config.QUEUE_PREFIX,
    ...extra,
  };
}

/**
 * Calls `fire` inside the sandbox's handling of the first send request, when it arrives
 * (before its injected latency): a job is mid-flight then, however fast the machine is.
 */
function onFirstSend(p: Pipeline, fire: () => void): void {
  const faults = p.sandbox.faults;
  const delayFor = faults.delayFor.bind(faults);
  let fired = false;
  faults.delayFor = (cls) => {
    if (cls === "send" && !fired) {
      fired = true;
      fire();
    }
    return delayFor(cls);
  };
}

// The worker dyno as Heroku runs it: `jobs/worker.ts` in a process of its own, scheduling
// through its BullMQ job scheduler (no clock process), stopped with SIGTERM.
describe("worker process", () => {
  let p: Pipeline;
  let fleet: WorkerFleet;
  const logDir = mkdtempSync(join(tmpdir(), "worker-proc-"));
  // A fixed instant (CLOCK_START for the worker, the same clock for the sandbox), hours from
  // local midnight in every seeded zone (New York 11:00, London 16:00, Sydney 01:00, Santiago
  // 11:00): no midnight can pass between the seed and the worker's tick, whatever the date.
  const now = new Date("2026-06-10T15:00:00Z");

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 4, now }, now: clockFrom(now.getTime()) } });
    await p.sync();
    // Due at any hour of the local day, so the process's own tick picks every grant up.
    await p.db.grant.updateMany({ where: { id: { in: p.sandbox.grantIds() } }, data: { sendHour: 0 } });
    fleet = new WorkerFleet({
      count: 1,
      logDir,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        REDIS_URL: p.config.REDIS_URL,
        NYLAS_API_KEY: p.sandbox.apiKey,
        NYLAS_API_URI: p.sandbox.url,
        QUEUE_PREFIX: p.config.QUEUE_PREFIX,
        SCHEDULER_EVERY_MS: "1000",
        // The fleet's default NODE_ENV=production refuses CLOCK_START.
        NODE_ENV: "test",
        CLOCK_START: now.toISOString(),
      },
    });
  });
  afterAll(async () => {
    await fleet.stopAll(5000);
    await p.close();
  });

  it("schedules and sends tomorrow's reminders on its own, then stops cleanly on SIGTERM", async () => {
    const valid = await p.db.grant.count({ where: { id: { in: p.sandbox.grantIds() }, status: "valid" } });
    fleet.startAll();
    await vi.waitFor(
      async () =>
        expect(await p.db.run.count({ where: { grantId: { in: p.sandbox.grantIds() }, status: "completed" } })).toBe(
          valid,
        ),
      { timeout: 60_000, interval: 250 },
    );
    await waitForIdle(p.queue, 30_000);
    expect((await p.check(now)).ok).toBe(true);

    // It stops by itself, with exit code 0: not killed by the fleet's SIGKILL after 60 s.
    expect(await fleet.stopAll(60_000)).toEqual([{ code: 0, signal: null }]);
    const lines = readLogs(logDir);
    expect(lines.some((l) => l.msg === "active jobs did not finish in time; closing anyway")).toBe(false);
    expect(lines.some((l) => l.msg === "scheduler tick" && l.enqueued === valid)).toBe(true);
    expect(lines.filter((l) => l.msg === "run completed")).toHaveLength(valid);
    // The last thing the process logged (by time: its stdout and stderr share the file).
    const stopped = lines.find((l) => l.msg === "worker stopped");
    expect(stopped).toBeDefined();
    expect(lines.every((l) => l.time <= stopped!.time)).toBe(true);
    // Nothing secret reaches the log.
    expect(lines.map((l) => JSON.stringify(l)).join("\n")).not.toContain(p.sandbox.apiKey);
  });

  it.each([
    [{ WORKER_CONCURRENCY: "lots" }, /^worker: Invalid configuration: WORKER_CONCURRENCY must be a whole number$/],
    [{ NYLAS_API_KEY: "" }, /^worker: Invalid configuration: NYLAS_API_KEY is required$/],
    [{ DATABASE_URL: "" }, /^worker: Invalid configuration: DATABASE_URL is required for the worker$/],
    [{ REDIS_URL: "localhost:6379" }, /^worker: Invalid configuration: REDIS_URL must be a URL \(redis or rediss\)$/],
  ])("refuses bad configuration %j with one line and exit code 2", (bad, message) => {
    const env = {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: testDatabaseUrl(),
      NYLAS_API_KEY: "nyk_secret_abc",
      ...bad,
    };
    const res = spawnSync(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
      env,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr.trim()).toMatch(message);
    expect(res.stderr).not.toContain("nyk_secret_abc");
  });
});

// SIGTERM while jobs are in flight (README, Operations: Shutdown). The sandbox makes sends
// slow, and the signal is sent from inside its handling of the first send, so a job is
// always mid-flight when it lands.
describe("worker process shutdown", () => {
  let p: Pipeline | undefined;
  const fleets: WorkerFleet[] = [];
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.stopAll(5000);
    await p?.close();
    p = undefined;
  });
  const now = new Date();

  it(
    "lets the active jobs finish on SIGTERM, takes no new ones, and exits 0 within the bound",
    { timeout: 120_000 },
    async () => {
      p = await startPipeline({ sandbox: { seed: { grants: 6, now } } });
      await p.sync();
      const grants = (
        await p.db.grant.findMany({
          where: { id: { in: p.sandbox.grantIds() }, status: "valid" },
          select: { id: true },
        })
      ).map((g) => g.id);
      p.sandbox.setLatency({ perClass: { send: 400 } });
      const logDir = mkdtempSync(join(tmpdir(), "worker-term-"));
      // Two slots for six grants; the shutdown bound is the default (25 s).
      const fleet = new WorkerFleet({ count: 1, logDir, env: workerEnv(p, { WORKER_CONCURRENCY: "2" }) });
      fleets.push(fleet);
      let signalledAt = 0;
      onFirstSend(p, () => {
        signalledAt = Date.now();
        fleet.signal(0, "SIGTERM");
      });
      await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
      fleet.start(0);

      // It exits by itself (nobody else stops it), with 0.
      expect(await fleet.exited(0)).toEqual({ code: 0, signal: null });
      expect(signalledAt).toBeGreaterThan(0);
      const lines = readLogs(logDir);
      const stopping = lines.find((l) => l.msg === "worker stopping");
      const stopped = lines.find((l) => l.msg === "worker stopped");
      expect(stopping?.signal).toBe("SIGTERM");
      expect(stopped).toBeDefined();
      // Within the bound: the jobs were not cut off at it.
      expect(lines.filter((l) => l.msg === "active jobs did not finish in time; closing anyway")).toEqual([]);
      // The jobs in flight finished after the signal, and before the process said it stopped.
      const completed = lines.filter((l) => l.msg === "run completed");
      expect(completed.some((l) => l.time >= stopping!.time)).toBe(true);
      expect(completed.every((l) => l.time <= stopped!.time)).toBe(true);
      expect(p.sandbox.sentMessages().some((m) => m.at > signalledAt)).toBe(true);

      // Nothing left half-done: no job active (cut off, to stall) in Redis, no run "running";
      // every run it finished has all its reminders; the rest wait, untouched, for a worker.
      const counts = await p.queue.getJobCounts("active", "waiting", "delayed", "completed");
      expect(counts.active).toBe(0);
      expect(counts.delayed).toBe(0);
      expect(counts.waiting).toBeGreaterThan(0);
      const runs = await p.db.run.findMany({ where: { grantId: { in: grants } } });
      expect(runs.filter((r) => r.status === "running")).toEqual([]);
      const done = runs.filter((r) => r.status === "completed").map((r) => r.grantId);
      expect(done.length).toBe(completed.length);
      expect(done.length + (counts.waiting ?? 0)).toBe(grants.length);
      expect(await p.check(now, done)).toMatchObject({ ok: true });

      // A new worker process finishes the rest; every reminder went out once across both.
      p.sandbox.setLatency(0);
      fleet.start(0);
      await vi.waitFor(
        async () =>
          expect(await p!.db.run.count({ where: { grantId: { in: grants }, status: "completed" } })).toBe(
            grants.length,
          ),
        { timeout: 60_000, interval: 250 },
      );
      expect(await p.check(now)).toMatchObject({ ok: true, duplicates: [] });
      expect(await fleet.stop(0, 60_000)).toEqual({ code: 0, signal: null });
    },
  );

  it(
    "cuts a job longer than the bound; it stalls and another worker finishes it without sending twice",
    { timeout: 240_000 },
    async () => {
      p = await startPipeline({ sandbox: { seed: { grants: 1, now } } });
      await p.sync();
      const [grant] = p.sandbox.grantIds();
      const expected = messagesOf(p.sandbox.expectedReminders({ now, grantIds: [grant!] }));
      expect(expected).toBeGreaterThan(1);
      // The first send takes 8 s in the sandbox; the shutdown bound is 1 s. Worker A's Nylas
      // timeout (10 s) outlasts both, so the send is still in flight when A gives up, and
      // the sandbox performs it after A has gone: A never learns it went out.
      p.sandbox.setLatency({ perClass: { send: 8000 } });
      const dirA = mkdtempSync(join(tmpdir(), "worker-cut-a-"));
      const dirB = mkdtempSync(join(tmpdir(), "worker-cut-b-"));
      const a = new WorkerFleet({
        count: 1,
        logDir: dirA,
        env: workerEnv(p, { WORKER_CONCURRENCY: "1", SHUTDOWN_GRACE_MS: "1000", NYLAS_TIMEOUT_S: "10" }),
      });
      // B runs alongside from then on; it takes over claims after its lease (NYLAS_TIMEOUT_S
      // × 2 + 30 s = 32 s), about when BullMQ finds the job stalled (30 to 60 s).
      const b = new WorkerFleet({
        count: 1,
        logDir: dirB,
        env: workerEnv(p, { WORKER_CONCURRENCY: "1", NYLAS_TIMEOUT_S: "1" }),
      });
      fleets.push(a, b);
      onFirstSend(p, () => {
        a.signal(0, "SIGTERM");
        b.start(0);
      });
      await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
      a.start(0);

      expect(await a.exited(0)).toEqual({ code: 0, signal: null });
      const linesA = readLogs(dirA);
      const cut = linesA.filter((l) => l.msg === "active jobs did not finish in time; closing anyway");
      expect(cut).toHaveLength(1);
      expect(cut[0]!.graceMs).toBe(1000);
      const stoppedA = linesA.find((l) => l.msg === "worker stopped");
      expect(stoppedA).toBeDefined();
      expect(linesA.filter((l) => l.msg === "run completed")).toEqual([]);
      // The send A had in flight is performed after A stopped.
      p.sandbox.setLatency(0);
      await vi.waitFor(() => expect(p!.sandbox.sentMessages({ grantId: grant }).length).toBe(1), {
        timeout: 30_000,
        interval: 100,
      });
      expect(p.sandbox.sentMessages({ grantId: grant })[0]!.at).toBeGreaterThan(stoppedA!.time);

      // B finds the job stalled (A's lock runs out), waits out A's claims, looks in the Sent
      // folder and sends only what is missing.
      await vi.waitFor(
        async () => expect((await p!.db.run.findFirst({ where: { grantId: grant } }))?.status).toBe("completed"),
        { timeout: 200_000, interval: 500 },
      );
      expect(await b.stop(0, 60_000)).toEqual({ code: 0, signal: null });
      const job = await p.queue.getJob(
        runJobId(grant!, (await p.db.run.findFirstOrThrow({ where: { grantId: grant } })).day),
      );
      expect(job?.stalledCounter).toBeGreaterThanOrEqual(1);
      const report = await p.check(now);
      expect(report).toMatchObject({ ok: true, duplicates: [] });
      expect(p.sandbox.sentMessages({ grantId: grant })).toHaveLength(expected);
      // B finished it, and found the send A had in flight in the Sent folder.
      const linesB = readLogs(dirB);
      expect(linesB.filter((l) => l.msg === "run completed" && l.grantId === grant)).toHaveLength(1);
      expect(linesB.filter((l) => l.msg === "reminder found in Sent folder; not sent again")).toHaveLength(1);
    },
  );
});

describe("the demo batch", () => {
  it("runs end to end on Postgres and finds every expected reminder sent once", async () => {
    const sink = new LogSink();
    const config = loadConfig({
      NYLAS_API_KEY: "unused",
      DATABASE_URL: testDatabaseUrl(),
      QUEUE_PREFIX: uniqueId("demo").slice(0, 40),
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    });
    const summary = await runDemo(config, createLogger({ level: "warn" }, sink.stream), {
      grants: 10,
      expireDuringRun: 1,
      timeoutMs: 90_000,
    });
    expect(summary.report.ok).toBe(true);
    expect(summary.report.expected).toBeGreaterThan(40);
    // One message per meeting, and one per guest where the guest list is hidden.
    expect(summary.sent).toBeGreaterThan(summary.report.expected);
    // Every case of whom to remind happened, and the changes after the run were followed.
    for (const reason of [
      "not_organizer",
      "too_many_recipients",
      "private",
      "covered_by_other_grant",
      "opted_out",
      "started",
    ])
      expect(summary.skipped[reason], reason).toBeGreaterThan(0);
    expect(summary.afterTheRun).toMatchObject({ ok: true, movedNotices: 1, cancelNotices: 1, reruns: 1 });
    // The tick's runs, one of them stopped by the revoked grant, and the demo's delayed job.
    expect(summary.runs).toMatchObject({ completed: summary.tick.enqueued, needs_reauth: 1 });
    expect(summary.needsReauth.length).toBe(summary.sync.needsReauth + 1);
    expect(summary.database).toBe("postgres");
    await deleteGrants(await testPrisma(), summary.grantIds);
    // The demo leaves its queue for Bull Board to show; a test cleans up after itself.
    const redis = createRedis(config.REDIS_URL);
    const keys = await redis.keys(`${config.QUEUE_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
});
