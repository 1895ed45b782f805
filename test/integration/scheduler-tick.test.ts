import { Worker, UnrecoverableError } from "bullmq";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Redis } from "ioredis";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { createRunsQueue, type RunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { RUNS_QUEUE, runJobId } from "../../src/runs/job.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { closePrisma, createPrisma } from "../../src/db/client.js";
import { dropDatabase } from "../../src/db/migrate.js";
import { uniqueId } from "../support/db.js";
import { freshDatabase } from "../../harness/database.js";
import { LogSink } from "../support/pipeline.js";

// 2026-11-23 18:30 UTC: past 18:00 in UTC, Lisbon and Tehran (22:00, +3:30); 13:30 in
// New York; already 00:00 and 00:15 of the next day in Kolkata and Kathmandu (+5:45).
const NOW = new Date("2026-11-23T18:30:00Z");

describe("scheduler tick", () => {
  let db: Db;
  let redis: Redis;
  let queue: RunsQueue;
  const sink = new LogSink();
  const log = createLogger({ level: "debug" }, sink.stream);
  const tag = uniqueId("s");
  const ids: string[] = [];
  const grant = async (suffix: string, timeZone: string, extra: Record<string, unknown> = {}) => {
    const id = `${tag}_${suffix}`;
    ids.push(id);
    await db.grant.create({ data: { id, email: `${suffix}@example.com`, provider: "google", timeZone, ...extra } });
    return id;
  };
  const jobIds = async () =>
    (await queue.getJobs(["waiting", "delayed", "active", "completed", "failed"])).map((j) => j.id).sort();

  // A tick reads every grant in its database, so this file gets a database of its own.
  const dbName = `reminders_tick_test_${process.pid}`;
  let url: string;

  beforeAll(async () => {
    url = await freshDatabase(dbName);
    db = await createPrisma(url);
    redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    queue = createRunsQueue(redis, { prefix: tag.slice(0, 40), attempts: 3 });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await redis.quit();
    await closePrisma(db);
    await dropDatabase(url);
  });

  it("enqueues exactly the grants whose local send hour has come, for their next local day", async () => {
    const utc = await grant("utc", "UTC");
    const lisbon = await grant("lisbon", "Europe/Lisbon");
    const ny = await grant("ny", "America/New_York");
    const nyEarly = await grant("nyearly", "America/New_York", { sendHour: 13 });
    await grant("kolkata", "Asia/Kolkata");
    await grant("ktm", "Asia/Kathmandu");
    const tehran = await grant("tehran", "Asia/Tehran");
    await grant("off", "UTC", { enabled: false });
    await grant("reauth", "UTC", { status: "needs_reauth" });
    await grant("revoked", "UTC", { status: "revoked" });

    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 2 });
    expect(r).toMatchObject({ scanned: 7, due: 4, enqueued: 4, alreadyDone: 0, badZone: 0 });
    expect(await jobIds()).toEqual(
      [
        runJobId(utc, "2026-11-24"),
        runJobId(lisbon, "2026-11-24"),
        runJobId(nyEarly, "2026-11-24"),
        runJobId(tehran, "2026-11-24"),
      ].sort(),
    );
    const runs = await db.run.findMany({ where: { grantId: { in: ids } }, orderBy: { grantId: "asc" } });
    expect(runs.map((x) => [x.grantId, x.day, x.status])).toEqual(
      [
        [tehran, "2026-11-24", "queued"],
        [lisbon, "2026-11-24", "queued"],
        [nyEarly, "2026-11-24", "queued"],
        [utc, "2026-11-24", "queued"],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );

    // New York (13:30 there) is not due until its own 18:00, 23:00 UTC, and then for the same
    // next local day. On a queue of its own, so the jobs above stay as they are for the tests
    // below; what these ticks add is removed again.
    const laterPrefix = uniqueId("sl")
      .replace(/[^A-Za-z0-9_-]/g, "")
      .slice(0, 40);
    const later = createRunsQueue(redis, { prefix: laterPrefix, attempts: 3 });
    const runsBefore = await db.run.findMany({ select: { id: true } });
    const nyJob = runJobId(ny, "2026-11-24");
    const laterIds = async () => (await later.getJobs(["waiting", "delayed", "active"])).map((j) => j.id);
    try {
      await schedulerTick(db, later, log, { now: new Date("2026-11-23T22:59:59Z"), pageSize: 50 });
      expect(await laterIds()).not.toContain(nyJob);
      expect(await db.run.findUnique({ where: { grantId_day: { grantId: ny, day: "2026-11-24" } } })).toBeNull();
      await schedulerTick(db, later, log, { now: new Date("2026-11-23T23:00:00Z"), pageSize: 50 });
      expect(await laterIds()).toContain(nyJob);
      const nyRun = await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: ny, day: "2026-11-24" } } });
      expect(nyRun).toMatchObject({ status: "queued", timeZone: "America/New_York" });
    } finally {
      await db.run.deleteMany({ where: { id: { notIn: runsBefore.map((r) => r.id) }, grantId: { in: ids } } });
      await later.obliterate({ force: true });
      await later.close();
    }
  });

  it("adds nothing twice when ticks overlap", async () => {
    const before = await jobIds();
    const [a, b] = await Promise.all([
      schedulerTick(db, queue, log, { now: NOW, pageSize: 3 }),
      schedulerTick(db, queue, log, { now: NOW, pageSize: 5 }),
    ]);
    expect(a.due).toBe(4);
    expect(b.due).toBe(4);
    expect(await jobIds()).toEqual(before);
  });

  it("puts back what Postgres says is undone after Redis lost its data", async () => {
    const before = await jobIds();
    await queue.obliterate({ force: true });
    expect(await jobIds()).toEqual([]);
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 50 });
    expect(r.enqueued).toBe(4);
    expect(await jobIds()).toEqual(before);
  });

  it("leaves completed days alone", async () => {
    const utc = ids.find((i) => i.endsWith("_utc"))!;
    await db.run.update({ where: { grantId_day: { grantId: utc, day: "2026-11-24" } }, data: { status: "completed" } });
    await queue.obliterate({ force: true });
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 50 });
    expect(r).toMatchObject({ due: 4, alreadyDone: 1, enqueued: 3 });
    expect(await jobIds()).not.toContain(runJobId(utc, "2026-11-24"));
  });

  it("re-queues a day stopped by a 401 once its grant is valid again", async () => {
    const lisbon = ids.find((i) => i.endsWith("_lisbon"))!;
    const id = runJobId(lisbon, "2026-11-24");
    // Let a worker end every queued job for good, as a 401 does.
    const worker = new Worker(
      RUNS_QUEUE,
      async () => {
        throw new UnrecoverableError("grant needs re-authentication");
      },
      { connection: redis, prefix: tag.slice(0, 40) },
    );
    await vi.waitFor(async () => expect(await queue.getJobState(id)).toBe("failed"), { timeout: 5000 });
    await worker.close();
    await db.run.update({
      where: { grantId_day: { grantId: lisbon, day: "2026-11-24" } },
      data: { status: "needs_reauth" },
    });
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 50 });
    expect(r.revived).toBe(1);
    expect(await queue.getJobState(id)).toBe("waiting");
    expect(
      (await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: lisbon, day: "2026-11-24" } } })).status,
    ).toBe("queued");
  });

  it("reports grants with an unknown zone instead of failing the tick", async () => {
    await grant("mars", "Mars/Olympus_Mons");
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 50 });
    expect(r.badZone).toBe(1);
    expect(sink.find(/unknown time zone/)[0]).toMatchObject({ zone: "Mars/Olympus_Mons" });
  });

  it("reports a bad zone once per tick, however many pages hold its grants", async () => {
    await grant("mars2", "Mars/Olympus_Mons");
    const logged = sink.find(/unknown time zone/).length;
    // One grant per page: the first Mars grant finds the zone bad, the second is counted by
    // the page statement from the combinations already checked.
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 1 });
    expect(r.badZone).toBe(2);
    expect(sink.find(/unknown time zone/).length).toBe(logged + 1);
  });

  it("classifies the runs of a zone it has already checked in the same statement that writes them", async () => {
    // Berlin (19:30 local at NOW) is due for 2026-11-24. With one grant per page, only the
    // first Berlin grant is checked in JS; the others go through the page statement.
    const day = "2026-11-24";
    const berlin = [];
    for (const n of [1, 2, 3, 4, 5]) berlin.push(await grant(`berlin${n}`, "Europe/Berlin"));
    const [fresh, done, reauth, failed, running] = berlin as [string, string, string, string, string];
    for (const [grantId, status] of [
      [done, "completed"],
      [reauth, "needs_reauth"],
      [failed, "failed"],
      [running, "running"],
    ] as const) {
      await db.run.create({ data: { grantId, day, timeZone: "Europe/Berlin", status } });
    }
    const before = await db.run.count();
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 1 });
    expect(r.revived).toBe(1);
    expect(r.alreadyDone).toBeGreaterThanOrEqual(1);
    // Only the fresh day got a Run row; the others kept theirs.
    expect(await db.run.count()).toBe(before + 1);
    const status = async (grantId: string) =>
      (await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } })).status;
    expect(await status(fresh)).toBe("queued");
    expect(await status(done)).toBe("completed");
    expect(await status(reauth)).toBe("queued");
    expect(await status(failed)).toBe("failed");
    expect(await status(running)).toBe("running");
    // Every undone day has its job (Redis may have lost them); the settled one has none.
    const jobs = await jobIds();
    for (const grantId of [fresh, reauth, failed, running]) expect(jobs).toContain(runJobId(grantId, day));
    expect(jobs).not.toContain(runJobId(done, day));
  });

  it("treats every grant as due with ignoreSendHour (demo, backfills)", async () => {
    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 50, ignoreSendHour: true });
    // The seven valid, enabled grants with a real zone, and the five Berlin ones.
    expect(r.due).toBe(12);
  });

  it("revives days reopened by a zone change once due in the grant's zone, today's included", async () => {
    // NOW is 10:30 on 2026-11-23 in Los Angeles: today's eve has passed, tomorrow's has not.
    const today = await grant("la_today", "America/Los_Angeles");
    const tomorrow = await grant("la_tomorrow", "America/Los_Angeles");
    const off = await grant("la_off", "America/Los_Angeles", { enabled: false });
    const over = await grant("la_over", "America/Los_Angeles");
    const reopened = (grantId: string, day: string) =>
      db.run.create({ data: { grantId, day, timeZone: "Asia/Tokyo", status: "reopened" } });
    await reopened(today, "2026-11-23");
    await reopened(tomorrow, "2026-11-24");
    await reopened(off, "2026-11-23");
    await reopened(over, "2026-11-22"); // ended in Los Angeles at 08:00 UTC today
    const status = async (grantId: string, day: string) =>
      (await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } })).status;

    const r = await schedulerTick(db, queue, log, { now: NOW, pageSize: 3 });
    expect(r.reopened).toBe(1);
    expect(await status(today, "2026-11-23")).toBe("queued");
    expect(await jobIds()).toContain(runJobId(today, "2026-11-23"));
    for (const [g, d] of [
      [tomorrow, "2026-11-24"],
      [off, "2026-11-23"],
      [over, "2026-11-22"],
    ] as const)
      expect(await status(g, d)).toBe("reopened");

    // At 18:00 in Los Angeles tomorrow's eve has come: the page statement finds it reopened too.
    const eve = await schedulerTick(db, queue, log, { now: new Date("2026-11-24T02:00:00Z"), pageSize: 3 });
    expect(eve.reopened).toBe(1);
    expect(await status(tomorrow, "2026-11-24")).toBe("queued");
    expect(await jobIds()).toContain(runJobId(tomorrow, "2026-11-24"));
  });
});
