import { UnrecoverableError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import type { Config } from "../../src/config.js";
import type { Db } from "../../src/db/client.js";
import { markGrantNeedsReauth } from "../../src/grants/status.js";
import { createLogger } from "../../src/log/logger.js";
import { createQueue, createWorker } from "../../src/redis/queue-factory.js";
import { enqueueRuns } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { Ledger } from "../../src/reminders/ledger.js";
import { runJobId } from "../../src/runs/job.js";
import { RunStore } from "../../src/runs/store.js";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { testConfig, uniquePrefix } from "../e2e/support.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { settledJob } from "../support/jobs.js";
import { LogSink } from "../support/pipeline.js";

// Secrets planted in error text must not reach Postgres (runs, ledger, grants), BullMQ's
// failed reason and stacktrace, or a log line: real Postgres, real Redis, the real worker.
const KEY = "nyk_v0_PLANTEDAPIKEY0123";
const PASSWORD = "pl@nted/pass:word";
const TOKEN = "PLANTEDBEARER0123";
const planted = [KEY, "PLANTEDAPIKEY", PASSWORD, "pl%40nted", "nted/pass", "pass:word", TOKEN, "PLANTEDCODE"];
const dirty = `failed with Bearer ${TOKEN}, key ${KEY}, via redis://default:${PASSWORD}@redis.example.com:6379 and /cb?code=PLANTEDCODE`;

function expectClean(text: string | null | undefined): void {
  expect(text ?? "").not.toBe("");
  for (const p of planted) expect(text).not.toContain(p);
}

describe("error text is stored and logged scrubbed", () => {
  let db: Db;
  let sandbox: Sandbox;
  let redis: Redis;
  const grants: string[] = [];
  const prefix = uniquePrefix("scrub");

  const newGrant = async (timeZone = "UTC") => {
    const id = uniqueId("scrub");
    grants.push(id);
    await db.grant.create({ data: { id, email: `${id}@example.com`.toLowerCase(), provider: "google", timeZone } });
    return id;
  };

  beforeAll(async () => {
    db = await testPrisma();
    sandbox = await startSandbox({});
    redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await deleteGrants(db, grants);
    await sandbox.close();
  });

  /** The run's job once it has failed. */
  const failedJob = async (worker: WorkerApp, grantId: string, day: string): Promise<Job> =>
    (await settledJob(worker.runsQueue, runJobId(grantId, day), { states: ["failed"], interval: 100 })).job;

  it("a run failing on a Nylas URI with credentials: runs.last_error, failedReason, stacktrace and the log", async () => {
    const sink = new LogSink();
    const base: Config = testConfig(sandbox, `${prefix}-run`);
    // fetch refuses a URL with credentials and quotes it in its message: the SDK's error
    // then carries the password into the run's failure.
    const config: Config = { ...base, NYLAS_API_URI: `http://nylas:${PASSWORD}@127.0.0.1:1`, JOB_ATTEMPTS: 1 };
    const worker: WorkerApp = await startWorkerApp(config, createLogger({ level: "debug" }, sink.stream), {
      db,
      scheduler: false,
      webhooks: false,
    });
    try {
      const grantId = await newGrant();
      const day = "2026-11-24";
      await enqueueRuns(worker.runsQueue, [{ grantId, day }], "backfill");
      const job = await failedJob(worker, grantId, day);
      expect(job.failedReason).toContain("[Redacted]");
      expectClean(job.failedReason);
      expect(job.stacktrace?.length).toBeGreaterThan(0);
      for (const frame of job.stacktrace ?? []) expectClean(frame);
      const run = await db.run.findUnique({ where: { grantId_day: { grantId, day } } });
      expect(run?.status).toBe("failed");
      expectClean(run?.lastError);
      await vi.waitFor(() => expect(sink.find(/job failed/).length).toBeGreaterThan(0), {
        timeout: 5000,
        interval: 50,
      });
      for (const line of sink.lines) for (const p of planted) expect(JSON.stringify(line)).not.toContain(p);
    } finally {
      await worker.runsQueue.obliterate({ force: true }).catch(() => {});
      await worker.close(5000);
    }
  });

  it("a run failing on a zone that holds secrets: the stored error and the failed reason", async () => {
    const config = testConfig(sandbox, `${prefix}-zone`, { JOB_ATTEMPTS: "1" });
    const worker = await startWorkerApp(config, createLogger({ level: "silent" }), {
      db,
      scheduler: false,
      webhooks: false,
    });
    try {
      // A zone is data from a calendar; the window maths quotes it when it cannot use it.
      const grantId = await newGrant(dirty);
      const day = "2026-11-25";
      await enqueueRuns(worker.runsQueue, [{ grantId, day }], "backfill");
      const job = await failedJob(worker, grantId, day);
      expect(job.failedReason).toContain("[Redacted]");
      expectClean(job.failedReason);
      for (const frame of job.stacktrace ?? []) expectClean(frame);
      expectClean((await db.run.findUnique({ where: { grantId_day: { grantId, day } } }))?.lastError);
    } finally {
      await worker.runsQueue.obliterate({ force: true }).catch(() => {});
      await worker.close(5000);
    }
  });

  it("a worker made by the factory stores scrubbed failures and keeps the error's class", async () => {
    const name = "scrubbed";
    const log = createLogger({ level: "silent" });
    const queue = createQueue(name, { connection: redis, prefix }, log);
    const worker = createWorker(
      name,
      async () => {
        throw new UnrecoverableError(dirty);
      },
      { connection: redis, prefix },
      log,
    );
    try {
      const job = await queue.add("j", {}, { attempts: 3 });
      const { job: failed } = await settledJob(queue, job.id!, { states: ["failed"], timeout: 10_000 });
      expectClean(failed.failedReason);
      for (const frame of failed.stacktrace ?? []) expectClean(frame);
      expect((failed.stacktrace ?? []).join("\n")).toContain("UnrecoverableError");
      // Unrecoverable: not retried, so BullMQ still saw the class through the scrubbing.
      expect(failed.attemptsMade).toBe(1);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("ledger rows, run rows and grant reasons", async () => {
    const grantId = await newGrant();
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 5 });
    const claim = (eventId: string) =>
      ledger.claim({
        grantId,
        eventId,
        eventStart: 1_795_500_000,
        day: "2026-11-24",
        title: "t",
        recipients: [{ email: "a@example.com" }],
        audience: "",
      });
    const failed = await claim("e1");
    const released = await claim("e2");
    const unclaimed = await claim("e3");
    if (failed.outcome !== "claimed" || released.outcome !== "claimed" || unclaimed.outcome !== "claimed")
      throw new Error("expected claims");
    await ledger.markFailed(failed.id, dirty);
    await ledger.release(released.id, dirty);
    await ledger.unclaim([unclaimed], dirty);
    const rows = await db.reminder.findMany({ where: { grantId }, select: { lastError: true } });
    expect(rows).toHaveLength(3);
    for (const r of rows) expectClean(r.lastError);

    const runs = new RunStore(db);
    await runs.attemptFailed({ grantId, day: "2026-11-26", timeZone: "UTC" }, dirty, { retrying: false });
    expectClean((await db.run.findUnique({ where: { grantId_day: { grantId, day: "2026-11-26" } } }))?.lastError);
    await runs.start(
      grantId,
      "2026-11-27",
      "j",
      { timeZone: "UTC", timeZoneSource: "default" },
      { start: 0, end: 86_400 },
    );
    await runs.finish(grantId, "2026-11-27", {
      status: "running",
      meetingsSeen: 0,
      remindersSkipped: 0,
      skippedByReason: {},
      lastError: dirty,
      finishedAt: null,
      durationMs: null,
    });
    expectClean((await db.run.findUnique({ where: { grantId_day: { grantId, day: "2026-11-27" } } }))?.lastError);

    await markGrantNeedsReauth(db, grantId, dirty);
    expectClean((await db.grant.findUnique({ where: { id: grantId } }))?.statusReason);
  });
});
