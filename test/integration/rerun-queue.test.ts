import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { createRedis } from "../../src/redis/connection.js";
import { RUNS_QUEUE, runJobId } from "../../src/runs/job.js";
import { createRunsQueue, enqueueRuns, type RunsQueue } from "../../src/runs/queue.js";
import { rerunNextDay } from "../../src/runs/rerun.js";
import { nextLocalDay } from "../../src/time/window.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";

/**
 * rerunNextDay against Postgres and Redis (no sandbox): which run states get a re-run, how
 * the job is added (under the run's id, delayed, deduplicated), and what is left alone.
 */
describe("rerunNextDay: a changed meeting re-runs a completed next day", () => {
  let db: Db;
  let redis: Redis;
  let queue: RunsQueue;
  const prefix = uniqueId("rq")
    .replace(/[^A-Za-z0-9_-]/g, "")
    .slice(0, 40);
  const ZONE = "Europe/Berlin";
  const now = new Date();
  const day = nextLocalDay(ZONE, now);
  const grants: string[] = [];

  const grant = async (status: "valid" | "revoked" = "valid") => {
    const id = uniqueId("rq");
    grants.push(id);
    await db.grant.create({ data: { id, email: `${id}@example.com`, provider: "google", timeZone: ZONE, status } });
    return id;
  };
  const run = (grantId: string, status: "completed" | "running" | "queued") =>
    db.run.create({ data: { grantId, day, timeZone: ZONE, status } });
  const status = async (grantId: string) =>
    (await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } })).status;

  beforeAll(async () => {
    db = await testPrisma();
    redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    queue = createRunsQueue(redis, { prefix, attempts: 3 });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await redis.quit();
    await deleteGrants(db, grants);
  });

  it("a completed run: one delayed re-run job under the run's id, the run queued; the next change finds it pending", async () => {
    const g = await grant();
    await run(g, "completed");
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toEqual({ day, queued: true, reason: "re-run queued" });
    const job = (await queue.getJob(runJobId(g, day)))!;
    expect(job.data).toEqual({ grantId: g, day, source: "rerun" });
    expect(await job.getState()).toBe("delayed");
    expect(job.opts.delay).toBe(60_000);
    expect(await status(g)).toBe("queued");
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toMatchObject({
      queued: false,
      reason: expect.stringMatching(/^run not settled \(queued\)/),
    });
    // Marked completed again while its job still waits (another path finished the day): pending.
    await db.run.update({ where: { grantId_day: { grantId: g, day } }, data: { status: "completed" } });
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toEqual({
      day,
      queued: false,
      reason: "re-run already in the queue",
    });
    expect((await queue.getJobs(["delayed", "waiting"])).filter((j) => j.data.grantId === g)).toHaveLength(1);
  });

  it("the first run's finished job makes way for the re-run", async () => {
    const g = await grant();
    await run(g, "completed");
    await enqueueRuns(queue, [{ grantId: g, day }], "scheduler");
    const worker = new Worker(RUNS_QUEUE, null, { connection: redis.duplicate(), prefix });
    try {
      const token = "t1";
      const active = (await worker.getNextJob(token))!;
      expect(active.id).toBe(runJobId(g, day));
      // Its run recorded completed, its job not ended yet: nothing is marked, the caller retries.
      expect(await rerunNextDay(db, queue, g, 60_000, now)).toMatchObject({ queued: false, running: true });
      expect(await status(g)).toBe("completed");
      await active.moveToCompleted({ status: "completed" }, token, false);
    } finally {
      await worker.close();
    }
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toMatchObject({ queued: true });
    expect((await queue.getJob(runJobId(g, day)))!.data.source).toBe("rerun");
  });

  it.each([
    ["running", "run not settled (running)"],
    ["queued", "run not settled (queued)"],
  ] as const)("a %s run needs nothing: it reads the change", async (state, reason) => {
    const g = await grant();
    await run(g, state);
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toMatchObject({
      queued: false,
      reason: expect.stringContaining(reason),
    });
    expect(await queue.getJob(runJobId(g, day))).toBeUndefined();
  });

  it("no run, an unknown grant, a grant that cannot run: nothing", async () => {
    const g = await grant();
    expect(await rerunNextDay(db, queue, g, 60_000, now)).toMatchObject({
      queued: false,
      reason: expect.stringContaining("(none)"),
    });
    expect(await rerunNextDay(db, queue, "no-such-grant", 60_000, now)).toEqual({
      queued: false,
      reason: "grant not in the database",
    });
    const revoked = await grant("revoked");
    await run(revoked, "completed");
    expect(await rerunNextDay(db, queue, revoked, 60_000, now)).toMatchObject({
      queued: false,
      reason: "grant revoked",
    });
    expect(await status(revoked)).toBe("completed");
  });
});
